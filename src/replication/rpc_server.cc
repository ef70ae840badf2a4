// The answering side of node-to-node requests: a poll thread, worker threads and per-connection
// reply writes (see rpc_server.h).
#include "replication/rpc_server.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include "replication/raft_preamble.h"
#include "replication/rpc_frame.h"
#include "replication/rpc_socket.h"

namespace es::replication {
namespace {

// Most bytes the poll thread reads from one connection per turn, so that one busy peer cannot
// starve the others.
constexpr size_t k_read_turn_bytes = 4u << 20;

void block_sigpipe() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

}  // namespace

struct rpc_server::connection {
    connection(int f, uint64_t node) : fd(f), from_node(node) {}

    // Constant after construction (fd stays valid until `closed` is set).
    const int fd;
    const uint64_t from_node;

    std::mutex write_mutex;         // one reply frame at a time
    bool closed = false;            // guarded by write_mutex: fd is closed, replies are dropped
    std::atomic<int> in_flight{0};  // requests handed to workers and not yet answered

    // Poll thread only.
    rpc_frame_reader reader{rpc_frame_reader::kind::request};
    rpc_clock::time_point last_request = rpc_clock::now();
};

struct rpc_server::task {
    std::shared_ptr<connection> conn;
    uint64_t request_id = 0;
    std::vector<std::byte> body;
};

namespace {

// Writes one reply frame. With `may_block` false (the poll thread) a socket without room for the
// whole frame right now is given up instead of waited for. A failed write shuts the socket
// down: the poll thread then sees it and closes the connection.
template <class Connection>
void send_reply(Connection& c, uint64_t request_id, result<std::vector<std::byte>> r,
                bool may_block) {
    uint16_t code = 0;
    std::string message;
    std::span<const std::byte> body;
    if (r) {
        if (r->size() > k_rpc_body_bytes_max) {
            code = static_cast<uint16_t>(errc::too_large);
            message = "reply of " + std::to_string(r->size()) + " bytes, the limit is " +
                      std::to_string(k_rpc_body_bytes_max);
        } else {
            body = *r;
        }
    } else {
        const errc e = r.err().code == errc::ok ? errc::io_error : r.err().code;
        code = static_cast<uint16_t>(e);
        message = r.err().message.substr(0, k_rpc_body_bytes_max);
    }
    if (code != 0) body = std::as_bytes(std::span<const char>(message.data(), message.size()));
    auto header = encode_rpc_reply_header(request_id, code, body.size());
    iovec parts[2] = {{header.data(), header.size()},
                      {const_cast<std::byte*>(body.data()), body.size()}};
    std::lock_guard lock(c.write_mutex);
    if (c.closed) return;
    const auto deadline = may_block
                              ? rpc_clock::now() + std::chrono::milliseconds(k_rpc_write_timeout_ms)
                              : rpc_clock::time_point{};
    if (!send_all(c.fd, parts, deadline)) ::shutdown(c.fd, SHUT_RDWR);
}

// What a handler's rpc_reply holds: it answers once, and if every copy of the reply is dropped
// unanswered, the caller is told so instead of waiting for its time-out.
template <class Connection>
struct reply_state {
    reply_state(std::shared_ptr<Connection> c, uint64_t id) : conn(std::move(c)), request_id(id) {}
    ~reply_state() {
        if (!replied.exchange(true)) {
            finish(make_error(errc::io_error, "the rpc handler dropped its reply"));
        }
    }
    void finish(result<std::vector<std::byte>> r) {
        send_reply(*conn, request_id, std::move(r), true);
        conn->in_flight.fetch_sub(1, std::memory_order_relaxed);
    }

    const std::shared_ptr<Connection> conn;
    const uint64_t request_id;
    std::atomic<bool> replied{false};
};

}  // namespace

rpc_server::rpc_server(rpc_server_options options) : options_(options) {}

rpc_server::~rpc_server() {
    stop();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

status rpc_server::start() {
    ES_ASSERT(!started_ && options_.threads >= 1 && options_.queue_max >= 1);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        return make_error(errc::io_error,
                          std::string("rpc server: eventfd: ") + std::strerror(errno));
    }
    started_ = true;
    poll_thread_ = std::thread([this] { poll_main(); });
    for (uint32_t i = 0; i < options_.threads; ++i) {
        workers_.emplace_back([this] { worker_main(); });
    }
    return {};
}

void rpc_server::set_handler(rpc_handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = handler ? std::make_shared<const rpc_handler>(std::move(handler)) : nullptr;
}

void rpc_server::wake() {
    // REQUIRES: mutex_ held (wake_fd_ is closed only by the destructor, but a wake must not race
    // with the poll thread's exit check either).
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void rpc_server::adopt(int fd, uint64_t from_node) {
    if (!prepare_socket(fd)) {
        ::close(fd);
        return;
    }
    std::lock_guard lock(mutex_);
    if (!started_ || closing_ || open_connections_ >= options_.connections_max) {
        ::close(fd);
        return;
    }
    // A fresh socket always has room for one byte; the caller waits for it before it sends.
    const char ack = static_cast<char>(k_preamble_ack);
    if (::send(fd, &ack, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
        ::close(fd);
        return;
    }
    ++open_connections_;
    adopted_.push_back(std::make_shared<connection>(fd, from_node));
    wake();
}

size_t rpc_server::connection_count() const {
    std::lock_guard lock(mutex_);
    return open_connections_;
}

void rpc_server::close_connection(connection& c) {
    // Shut down first, unlocked: a reply blocked in a write wakes up and lets go of the mutex.
    ::shutdown(c.fd, SHUT_RDWR);
    {
        std::lock_guard lock(c.write_mutex);
        c.closed = true;
        ::close(c.fd);
    }
    std::lock_guard lock(mutex_);
    --open_connections_;
}

void rpc_server::poll_main() {
    block_sigpipe();
    const int turn_ms = static_cast<int>(std::min<uint64_t>(options_.idle_ms, 1000));
    std::vector<pollfd> fds;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (closing_) break;
            for (auto& c : adopted_) connections_.push_back(std::move(c));
            adopted_.clear();
        }
        fds.clear();
        fds.push_back({wake_fd_, POLLIN, 0});
        for (const auto& c : connections_) fds.push_back({c->fd, POLLIN, 0});
        const int rv = ::poll(fds.data(), fds.size(), std::max(turn_ms, 1));
        if (rv < 0 && errno != EINTR) {
            spdlog::error("rpc server: poll: {}", std::strerror(errno));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        if (fds[0].revents != 0) {
            uint64_t count = 0;
            [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
        }
        const auto now = rpc_clock::now();
        const auto idle = std::chrono::milliseconds(options_.idle_ms);
        std::vector<std::shared_ptr<connection>> keep;
        keep.reserve(connections_.size());
        for (size_t i = 0; i < connections_.size(); ++i) {
            const std::shared_ptr<connection>& c = connections_[i];
            bool open = true;
            if (fds[i + 1].revents != 0) open = read_connection(c);
            if (open && c->in_flight.load(std::memory_order_relaxed) == 0 &&
                now - c->last_request >= idle) {
                open = false;
            }
            if (open) {
                keep.push_back(c);
            } else {
                close_connection(*c);
            }
        }
        connections_.swap(keep);
    }
    for (const auto& c : connections_) close_connection(*c);
    connections_.clear();
    std::vector<std::shared_ptr<connection>> late;
    {
        std::lock_guard lock(mutex_);
        late.swap(adopted_);
    }
    for (const auto& c : late) close_connection(*c);
}

bool rpc_server::read_connection(const std::shared_ptr<connection>& c) {
    size_t budget = k_read_turn_bytes;
    while (budget > 0) {
        std::span<std::byte> want = c->reader.next_buffer();
        const ssize_t n = ::recv(c->fd, want.data(), want.size(), MSG_DONTWAIT);
        if (n == 0) return false;
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        budget -= std::min(budget, static_cast<size_t>(n));
        switch (c->reader.advance(static_cast<size_t>(n))) {
            case rpc_frame_reader::state::need_more:
                break;
            case rpc_frame_reader::state::malformed:
                spdlog::warn("rpc server: closing the connection from node {}: {}", c->from_node,
                             c->reader.error());
                return false;
            case rpc_frame_reader::state::complete: {
                rpc_frame frame = c->reader.take();
                c->last_request = rpc_clock::now();
                dispatch(c, frame.request_id, std::move(frame.body));
                break;
            }
        }
    }
    return true;
}

void rpc_server::dispatch(const std::shared_ptr<connection>& c, uint64_t request_id,
                          std::vector<std::byte> body) {
    std::unique_lock lock(mutex_);
    if (!handler_) {
        lock.unlock();
        send_reply(*c, request_id, make_error(errc::not_supported, "this node takes no requests"),
                   false);
        return;
    }
    if (queue_.size() >= options_.queue_max) {
        lock.unlock();
        send_reply(*c, request_id,
                   make_error(errc::queue_full,
                              std::to_string(options_.queue_max) + " requests are waiting already"),
                   false);
        return;
    }
    c->in_flight.fetch_add(1, std::memory_order_relaxed);
    queue_.push_back(task{c, request_id, std::move(body)});
    lock.unlock();
    work_cv_.notify_one();
}

void rpc_server::worker_main() {
    block_sigpipe();
    for (;;) {
        task t;
        std::shared_ptr<const rpc_handler> handler;
        {
            std::unique_lock lock(mutex_);
            work_cv_.wait(lock, [this] { return stopping_workers_ || !queue_.empty(); });
            if (stopping_workers_) return;
            t = std::move(queue_.front());
            queue_.pop_front();
            handler = handler_;
        }
        auto state = std::make_shared<reply_state<connection>>(t.conn, t.request_id);
        rpc_reply reply = [state](result<std::vector<std::byte>> r) {
            ES_ASSERT_MSG(!state->replied.exchange(true), "rpc reply called twice");
            state->finish(std::move(r));
        };
        try {
            (*handler)(t.conn->from_node, std::move(t.body), std::move(reply));
        } catch (const std::exception& e) {
            if (!state->replied.exchange(true)) {
                state->finish(
                    make_error(errc::io_error, std::string("rpc handler threw: ") + e.what()));
            }
        }
    }
}

void rpc_server::close_connections() {
    std::lock_guard stop_lock(stop_mutex_);
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
        if (started_) wake();
    }
    if (started_ && !poll_joined_) {
        poll_thread_.join();
        poll_joined_ = true;
    }
}

void rpc_server::stop() {
    close_connections();
    std::lock_guard stop_lock(stop_mutex_);
    std::deque<task> dropped;
    {
        std::lock_guard lock(mutex_);
        stopping_workers_ = true;
        dropped.swap(queue_);
    }
    work_cv_.notify_all();
    if (!workers_joined_) {
        for (std::thread& w : workers_) w.join();
        workers_joined_ = true;
    }
}

}  // namespace es::replication
