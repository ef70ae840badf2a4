// The calling side of node-to-node requests: connect, preamble, ack, then request and reply
// frames over a connection pooled per address (see rpc_client.h).
#include "replication/rpc_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "replication/raft_preamble.h"
#include "replication/raft_transport.h"
#include "replication/rpc_frame.h"

namespace es::replication {
namespace {

// Fills `out` for "host:port", resolving a name with getaddrinfo when it is not numeric.
status resolve(const std::string& host, uint16_t port, sockaddr_storage& out, socklen_t& len) {
    std::memset(&out, 0, sizeof out);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof(sockaddr_in);
        return {};
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
        return {};
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rv = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rv != 0 || found == nullptr) {
        return make_error(errc::unavailable, "resolve " + host + ": " + ::gai_strerror(rv));
    }
    std::memcpy(&out, found->ai_addr, found->ai_addrlen);
    len = found->ai_addrlen;
    ::freeaddrinfo(found);
    return {};
}

// True when an idle pooled socket is still fit to carry a request: no end of stream, no error
// and no stray bytes waiting on it.
bool still_open(int fd) {
    std::byte b;
    const ssize_t n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

rpc_client::rpc_client(uint64_t cluster_id, uint64_t node_id, std::string self_address)
    : cluster_id_(cluster_id),
      node_id_(node_id),
      self_address_(std::move(self_address)),
      cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    ES_ASSERT(node_id_ >= 1 && !self_address_.empty() &&
              self_address_.size() <= k_preamble_address_bytes_max);
    ES_ASSERT_MSG(cancel_fd_ >= 0, "eventfd failed");
}

rpc_client::~rpc_client() {
    stop();
    ::close(cancel_fd_);
}

void rpc_client::stop() {
    std::unique_lock lock(mutex_);
    if (!stopping_) {
        stopping_ = true;
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(cancel_fd_, &one, sizeof one);
    }
    idle_cv_.wait(lock, [this] { return calls_ == 0; });
    for (auto& [address, idle] : pool_) {
        for (pooled& c : idle) ::close(c.fd);
    }
    pool_.clear();
}

result<std::vector<std::byte>> rpc_client::call(const std::string& address,
                                                std::span<const std::byte> request,
                                                std::chrono::milliseconds timeout) {
    const std::string prefix = "rpc to " + address + ": ";
    if (request.size() > k_rpc_body_bytes_max) {
        return make_error(errc::too_large, prefix + "request of " + std::to_string(request.size()) +
                                               " bytes, the limit is " +
                                               std::to_string(k_rpc_body_bytes_max));
    }
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return make_error(errc::unavailable, prefix + "the raft host is stopping");
        ++calls_;
    }
    struct leave {
        rpc_client* self;
        ~leave() {
            std::lock_guard lock(self->mutex_);
            if (--self->calls_ == 0) self->idle_cv_.notify_all();
        }
    } on_return{this};

    const auto deadline = rpc_clock::now() + timeout;
    auto with_context = [&](error e) {
        if (e.code == errc::timed_out) {
            e.message = "no answer within " + std::to_string(timeout.count()) + " ms";
        }
        e.message = prefix + e.message;
        return e;
    };
    result<pooled> taken = take_or_connect(address, deadline);
    if (!taken) return with_context(std::move(taken).err());
    pooled c = std::move(taken).value();
    bool reusable = false;
    result<std::vector<std::byte>> answer = exchange(c, request, deadline, reusable);
    if (reusable) {
        give_back(address, c);
    } else {
        ::close(c.fd);
    }
    if (!answer && !reusable) return with_context(std::move(answer).err());
    // An error the other node replied with travels as it was sent.
    return answer;
}

result<rpc_client::pooled> rpc_client::take_or_connect(const std::string& address,
                                                       rpc_clock::time_point deadline) {
    {
        std::lock_guard lock(mutex_);
        auto it = pool_.find(address);
        const auto now = rpc_clock::now();
        while (it != pool_.end() && !it->second.empty()) {
            pooled c = it->second.back();
            it->second.pop_back();
            if (now - c.idle_since < std::chrono::milliseconds(k_rpc_pool_idle_ms) &&
                still_open(c.fd)) {
                return c;
            }
            ::close(c.fd);
        }
    }
    return connect(address, deadline);
}

result<rpc_client::pooled> rpc_client::connect(const std::string& address,
                                               rpc_clock::time_point deadline) {
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(address, host, port)) {
        return make_error(errc::invalid_argument, "the address is not host:port");
    }
    sockaddr_storage addr;
    socklen_t addr_len = 0;
    ES_TRY(resolve(host, port, addr, addr_len));
    const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return make_error(errc::unavailable, std::string("socket: ") + std::strerror(errno));
    auto fail = [fd](error e) {
        ::close(fd);
        return e;
    };
    prepare_socket(fd);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0 &&
        errno != EINPROGRESS) {
        return fail(make_error(errc::unavailable, std::string("connect: ") + std::strerror(errno)));
    }
    if (status s = wait_fd(fd, POLLOUT, deadline, cancel_fd_); !s) return fail(std::move(s).err());
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (so_error != 0) {
        return fail(
            make_error(errc::unavailable, std::string("connect: ") + std::strerror(so_error)));
    }
    std::vector<std::byte> hello =
        encode_preamble({cluster_id_, k_rpc_group_id, node_id_, self_address_});
    iovec part{hello.data(), hello.size()};
    if (status s = send_all(fd, std::span<iovec>(&part, 1), deadline, cancel_fd_); !s) {
        return fail(std::move(s).err());
    }
    for (;;) {
        std::byte ack{};
        const ssize_t n = ::recv(fd, &ack, 1, MSG_DONTWAIT);
        if (n == 1) {
            if (ack != k_preamble_ack) return fail(make_error(errc::unavailable, "bad ack byte"));
            break;
        }
        if (n == 0) {
            return fail(make_error(errc::unavailable,
                                   "the node closed the connection before its ack (stopping, or "
                                   "too many connections)"));
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return fail(
                make_error(errc::unavailable, std::string("recv: ") + std::strerror(errno)));
        }
        if (status s = wait_fd(fd, POLLIN, deadline, cancel_fd_); !s) {
            return fail(std::move(s).err());
        }
    }
    return pooled{fd, 1, rpc_clock::now()};
}

result<std::vector<std::byte>> rpc_client::exchange(pooled& c, std::span<const std::byte> request,
                                                    rpc_clock::time_point deadline,
                                                    bool& reusable) {
    reusable = false;
    const uint64_t id = c.next_request_id++;
    auto header = encode_rpc_request_header(id, request.size());
    iovec parts[2] = {{header.data(), header.size()},
                      {const_cast<std::byte*>(request.data()), request.size()}};
    ES_TRY(send_all(c.fd, parts, deadline, cancel_fd_));
    rpc_frame_reader reader(rpc_frame_reader::kind::reply);
    for (;;) {
        std::span<std::byte> want = reader.next_buffer();
        const ssize_t n = ::recv(c.fd, want.data(), want.size(), MSG_DONTWAIT);
        if (n == 0) return make_error(errc::unavailable, "the connection closed before the reply");
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                return make_error(errc::unavailable, std::string("recv: ") + std::strerror(errno));
            }
            ES_TRY(wait_fd(c.fd, POLLIN, deadline, cancel_fd_));
            continue;
        }
        switch (reader.advance(static_cast<size_t>(n))) {
            case rpc_frame_reader::state::need_more:
                continue;
            case rpc_frame_reader::state::malformed:
                return make_error(
                    reader.error_code() == errc::too_large ? errc::too_large : errc::unavailable,
                    "bad reply: " + reader.error());
            case rpc_frame_reader::state::complete:
                break;
        }
        rpc_frame frame = reader.take();
        if (frame.request_id != id) {
            return make_error(errc::unavailable, "reply for request " +
                                                     std::to_string(frame.request_id) +
                                                     ", expected " + std::to_string(id));
        }
        reusable = true;
        if (frame.code == 0) return std::move(frame.body);
        return make_error(
            rpc_code_to_errc(frame.code),
            std::string(reinterpret_cast<const char*>(frame.body.data()), frame.body.size()));
    }
}

void rpc_client::give_back(const std::string& address, pooled c) {
    std::lock_guard lock(mutex_);
    std::vector<pooled>& idle = pool_[address];
    if (stopping_ || idle.size() >= k_rpc_pool_idle_max) {
        ::close(c.fd);
        return;
    }
    c.idle_since = rpc_clock::now();
    idle.push_back(c);
}

}  // namespace es::replication
