// The shared-listener raft_uv_transport and the cluster listener (see raft_transport.h).
#include "replication/raft_transport.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace es::replication {
namespace {

void free_raft_handle(uv_handle_t* handle) {
    raft_free(handle);
}

// An incoming Raft connection is closed with a reset (SO_LINGER with a zero timeout), also when
// the process dies: the peer's next write on its end then fails, so raft_uv there connects anew
// and sends the message again (raft_log_io), instead of writing it into a connection whose
// reader is gone and losing it. Nothing is ever written on an incoming connection after its ack,
// so the reset discards nothing of ours.
void reset_on_close(uv_tcp_t* tcp) {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) != 0) return;
    const struct linger l { 1, 0 };
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// A new uv_tcp_t from raft's heap: raft_uv releases the streams it is given with raft_free.
uv_tcp_t* new_tcp(uv_loop_t* loop) {
    auto* tcp = static_cast<uv_tcp_t*>(raft_malloc(sizeof(uv_tcp_t)));
    if (tcp == nullptr) return nullptr;
    if (uv_tcp_init(loop, tcp) != 0) {
        raft_free(tcp);
        return nullptr;
    }
    tcp->data = nullptr;
    return tcp;
}

// Fills `out` from a numeric IPv4 or IPv6 host; false for a name that needs resolving.
bool numeric_address(const std::string& host, uint16_t port, sockaddr_storage& out) {
    std::memset(&out, 0, sizeof out);
    if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0) return true;
    return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

// A socket descriptor on its way from the listener's loop to a group's loop; closed unless
// someone takes it (the task may be dropped when the target loop is stopping).
struct owned_fd {
    int fd = -1;
    explicit owned_fd(int f) : fd(f) {}
    owned_fd(const owned_fd&) = delete;
    owned_fd& operator=(const owned_fd&) = delete;
    ~owned_fd() {
        if (fd >= 0) ::close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

char ack_byte = static_cast<char>(k_preamble_ack);

}  // namespace

bool split_host_port(const std::string& address, std::string& host, uint16_t& port) {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
    host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned value = 0;
    const char* first = address.data() + colon + 1;
    const char* last = address.data() + address.size();
    auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last || value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return !host.empty();
}

// ---- group_registry -------------------------------------------------------------------------

void group_registry::add(uint64_t group_id, group_transport* transport, raft_loop* loop) {
    std::lock_guard lock(mutex_);
    entries_[group_id] = entry{transport, loop};
}

void group_registry::remove(uint64_t group_id, group_transport* transport) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(group_id);
    if (it != entries_.end() && it->second.transport == transport) entries_.erase(it);
}

std::optional<group_registry::entry> group_registry::find(uint64_t group_id) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(group_id);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
}

// ---- group_transport ------------------------------------------------------------------------

// One outgoing connection being set up for raft_uv. Lives from connect() until raft_uv's
// callback has been called, its timer closed and its name lookup (if any) called back: whichever
// of the last two comes later frees it.
struct group_transport::connect_attempt {
    group_transport* owner = nullptr;
    struct raft_uv_connect* req = nullptr;
    raft_uv_connect_cb cb = nullptr;
    raft_id peer = 0;
    uv_timer_t timer{};  // k_connect_timeout_ms; data points here
    bool timed_out = false;
    bool finished = false;      // raft_uv's callback was called (finish_connect)
    bool timer_closed = false;  // the timer's close callback ran
    uv_getaddrinfo_t resolve{};
    bool resolving = false;   // the lookup's callback is still to come
    uv_tcp_t* tcp = nullptr;  // raft_malloc'd; handed to raft_uv on success
    uv_connect_t connect{};
    uv_write_t write{};
    std::vector<std::byte> preamble_bytes;
    std::byte ack{};
    bool wrote = false;
    bool acked = false;
    bool failed = false;  // the socket is being closed; late libuv callbacks do nothing
};

// An accepted connection whose ack is being written; raft_uv gets it once the write is done.
struct group_transport::ack_write {
    group_transport* owner = nullptr;
    uv_tcp_t* tcp = nullptr;
    preamble caller;
    uv_write_t req{};
    bool closed = false;  // the transport closed the socket meanwhile
};

group_transport::group_transport(std::shared_ptr<group_registry> registry, raft_loop* loop,
                                 uint64_t group_id, uint64_t connect_timeout_ms)
    : registry_(std::move(registry)),
      loop_(loop),
      group_id_(group_id),
      connect_timeout_ms_(connect_timeout_ms) {
    transport_.impl = this;
    transport_.init = &group_transport::on_init;
    transport_.listen = &group_transport::on_listen;
    transport_.connect = &group_transport::on_connect;
    transport_.close = &group_transport::on_close;
}

group_transport::~group_transport() {
    ES_ASSERT(connects_.empty() && acks_.empty());
    registry_->remove(group_id_, this);
}

int group_transport::on_init(struct raft_uv_transport* t, raft_id id, const char* address) {
    auto* self = static_cast<group_transport*>(t->impl);
    const size_t len = std::strlen(address);
    if (len == 0 || len > k_preamble_address_bytes_max) {
        std::snprintf(t->errmsg, sizeof t->errmsg, "address must be 1..%zu bytes",
                      k_preamble_address_bytes_max);
        return RAFT_INVALID;
    }
    self->self_id_ = id;
    self->self_address_ = address;
    return 0;
}

int group_transport::on_listen(struct raft_uv_transport* t, raft_uv_accept_cb cb) {
    auto* self = static_cast<group_transport*>(t->impl);
    self->accept_cb_ = cb;
    self->registry_->add(self->group_id_, self, self->loop_);
    return 0;
}

int group_transport::on_connect(struct raft_uv_transport* t, struct raft_uv_connect* req,
                                raft_id id, const char* address, raft_uv_connect_cb cb) {
    auto* self = static_cast<group_transport*>(t->impl);
    ES_ASSERT(!self->closing_);
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(address, host, port)) {
        // Refused synchronously: raft_uv then retries after its connect retry delay.
        std::snprintf(t->errmsg, sizeof t->errmsg, "bad address \"%s\" of node %llu", address,
                      static_cast<unsigned long long>(id));
        return RAFT_NOCONNECTION;
    }
    auto* a = new connect_attempt;
    a->owner = self;
    a->req = req;
    a->cb = cb;
    a->peer = id;
    spdlog::debug("raft g{}: connecting to node {} at {}", self->group_id_, id, address);
    sockaddr_storage addr;
    if (numeric_address(host, port, addr)) {
        self->connects_.insert(a);
        self->start_timer(a);
        self->start_tcp_connect(a, reinterpret_cast<const sockaddr*>(&addr));
        return 0;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    a->resolve.data = a;
    const std::string port_text = std::to_string(port);
    int rv = uv_getaddrinfo(
        self->loop_->loop(), &a->resolve,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
            auto* a = static_cast<connect_attempt*>(req->data);
            a->resolving = false;
            if (a->finished) {
                // Given up on while the lookup ran (timeout or close): only the attempt is
                // left to free, and its owner may be gone.
                if (res != nullptr) uv_freeaddrinfo(res);
                if (a->timer_closed) delete a;
                return;
            }
            if (status != 0 || res == nullptr || a->owner->closing_) {
                if (res != nullptr) uv_freeaddrinfo(res);
                a->owner->finish_connect(a, false);
                return;
            }
            a->owner->start_tcp_connect(a, res->ai_addr);
            uv_freeaddrinfo(res);
        },
        host.c_str(), port_text.c_str(), &hints);
    if (rv != 0) {
        delete a;
        std::snprintf(t->errmsg, sizeof t->errmsg, "resolve %s: %s", address, uv_strerror(rv));
        return RAFT_NOCONNECTION;
    }
    a->resolving = true;
    self->connects_.insert(a);
    self->start_timer(a);
    return 0;
}

void group_transport::start_timer(connect_attempt* a) {
    uv_timer_init(loop_->loop(), &a->timer);  // cannot fail for a timer
    a->timer.data = a;
    uv_timer_start(
        &a->timer,
        [](uv_timer_t* timer) {
            auto* a = static_cast<connect_attempt*>(timer->data);
            if (a->failed || a->timed_out) return;
            a->timed_out = true;
            spdlog::debug("raft g{}: connection to node {} not set up within {} ms",
                          a->owner->group_id_, a->peer, a->owner->connect_timeout_ms_);
            if (a->resolving) {
                // A lookup already running cannot be cancelled (uv_cancel: UV_EBUSY) and may
                // take the resolver's own timeouts: raft_uv hears now, and the lookup's
                // callback only frees the attempt.
                uv_cancel(reinterpret_cast<uv_req_t*>(&a->resolve));
                a->owner->finish_connect(a, false);
            } else {
                a->owner->fail_connect(a);
            }
        },
        connect_timeout_ms_, 0);
}

void group_transport::start_tcp_connect(connect_attempt* a, const struct sockaddr* addr) {
    a->tcp = new_tcp(loop_->loop());
    if (a->tcp == nullptr) {
        finish_connect(a, false);
        return;
    }
    a->tcp->data = a;
    uv_tcp_nodelay(a->tcp, 1);
    a->connect.data = a;
    int rv = uv_tcp_connect(&a->connect, a->tcp, addr, [](uv_connect_t* req, int status) {
        auto* a = static_cast<connect_attempt*>(req->data);
        if (a->failed) return;
        group_transport* self = a->owner;
        if (status != 0) {
            self->fail_connect(a);
            return;
        }
        a->preamble_bytes = encode_preamble(
            {self->registry_->cluster_id(), self->group_id_, self->self_id_, self->self_address_});
        uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(a->preamble_bytes.data()),
                                   static_cast<unsigned>(a->preamble_bytes.size()));
        a->write.data = a;
        int rv = uv_write(&a->write, reinterpret_cast<uv_stream_t*>(a->tcp), &buf, 1,
                          [](uv_write_t* req, int status) {
                              auto* a = static_cast<connect_attempt*>(req->data);
                              if (a->failed) return;
                              if (status != 0) {
                                  a->owner->fail_connect(a);
                                  return;
                              }
                              a->wrote = true;
                              if (a->acked) a->owner->finish_connect(a, true);
                          });
        if (rv != 0) {
            self->fail_connect(a);
            return;
        }
        // Read exactly the one ack byte: the buffer handed out is one byte long, and reading
        // stops as soon as it arrived, so raft_uv owns every later byte of the stream.
        rv = uv_read_start(
            reinterpret_cast<uv_stream_t*>(a->tcp),
            [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
                auto* a = static_cast<connect_attempt*>(handle->data);
                *buf = uv_buf_init(reinterpret_cast<char*>(&a->ack), 1);
            },
            [](uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
                auto* a = static_cast<connect_attempt*>(stream->data);
                if (a->failed || nread == 0) return;
                if (nread < 0 || a->ack != k_preamble_ack) {
                    a->owner->fail_connect(a);
                    return;
                }
                uv_read_stop(stream);
                a->acked = true;
                if (a->wrote) a->owner->finish_connect(a, true);
            });
        if (rv != 0) self->fail_connect(a);
    });
    if (rv != 0) fail_connect(a);
}

void group_transport::fail_connect(connect_attempt* a) {
    if (a->failed) return;
    a->failed = true;
    if (a->tcp == nullptr) {
        finish_connect(a, false);
        return;
    }
    // The connect and write requests get UV_ECANCELED before the close callback runs.
    uv_close(reinterpret_cast<uv_handle_t*>(a->tcp), [](uv_handle_t* handle) {
        auto* a = static_cast<connect_attempt*>(handle->data);
        raft_free(handle);
        a->tcp = nullptr;
        a->owner->finish_connect(a, false);
    });
}

void group_transport::finish_connect(connect_attempt* a, bool connected) {
    if (connected && closing_) {
        // Closing raced with the handshake: do not hand raft_uv a stream it no longer wants.
        fail_connect(a);
        return;
    }
    connects_.erase(a);
    uv_stream_t* stream = nullptr;
    int status = closing_ ? RAFT_CANCELED : RAFT_NOCONNECTION;
    if (connected) {
        a->tcp->data = nullptr;
        stream = reinterpret_cast<uv_stream_t*>(a->tcp);
        status = 0;
    }
    spdlog::debug("raft g{}: connection to node {} {}", group_id_, a->peer,
                  connected ? "up" : "failed");
    raft_uv_connect_cb cb = a->cb;
    struct raft_uv_connect* req = a->req;
    // Closing the timer stops it; its close callback, on a later turn of the loop, frees the
    // attempt unless a lookup is still out (its callback frees it then).
    a->finished = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&a->timer), [](uv_handle_t* timer) {
        auto* a = static_cast<connect_attempt*>(timer->data);
        a->timer_closed = true;
        if (!a->resolving) delete a;
    });
    cb(req, stream, status);
    maybe_finish_close();
}

void group_transport::accept_connection(uv_tcp_t* tcp, preamble caller) {
    if (closing_ || accept_cb_ == nullptr) {
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_raft_handle);
        return;
    }
    reset_on_close(tcp);
    auto* w = new ack_write;
    w->owner = this;
    w->tcp = tcp;
    w->caller = std::move(caller);
    w->req.data = w;
    tcp->data = w;
    uv_buf_t buf = uv_buf_init(&ack_byte, 1);
    int rv = uv_write(
        &w->req, reinterpret_cast<uv_stream_t*>(tcp), &buf, 1, [](uv_write_t* req, int status) {
            auto* w = static_cast<ack_write*>(req->data);
            group_transport* self = w->owner;
            self->acks_.erase(w);
            if (!w->closed) {
                if (status != 0 || self->closing_ || self->accept_cb_ == nullptr) {
                    uv_close(reinterpret_cast<uv_handle_t*>(w->tcp), free_raft_handle);
                } else {
                    w->tcp->data = nullptr;
                    self->accept_cb_(&self->transport_, w->caller.node_id,
                                     w->caller.address.c_str(),
                                     reinterpret_cast<uv_stream_t*>(w->tcp));
                }
            }
            delete w;
            self->maybe_finish_close();
        });
    if (rv != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_raft_handle);
        delete w;
        return;
    }
    acks_.insert(w);
}

void group_transport::accept_fd(int fd, preamble caller) {
    uv_tcp_t* tcp = new_tcp(loop_->loop());
    if (tcp == nullptr) {
        ::close(fd);
        return;
    }
    if (uv_tcp_open(tcp, fd) != 0) {
        ::close(fd);
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_raft_handle);
        return;
    }
    uv_tcp_nodelay(tcp, 1);
    accept_connection(tcp, std::move(caller));
}

void group_transport::on_close(struct raft_uv_transport* t, raft_uv_transport_close_cb cb) {
    auto* self = static_cast<group_transport*>(t->impl);
    ES_ASSERT(!self->closing_);
    self->closing_ = true;
    self->close_cb_ = cb;
    self->accept_cb_ = nullptr;
    self->registry_->remove(self->group_id_, self);
    std::vector<connect_attempt*> connects(self->connects_.begin(), self->connects_.end());
    for (connect_attempt* a : connects) {
        if (a->resolving) {
            // As at a timeout: raft_uv hears now (RAFT_CANCELED), and the lookup's callback,
            // with UV_EAI_CANCELED or, if the lookup already ran, its result, only frees the
            // attempt.
            uv_cancel(reinterpret_cast<uv_req_t*>(&a->resolve));
            self->finish_connect(a, false);
        } else {
            self->fail_connect(a);
        }
    }
    for (ack_write* w : self->acks_) {
        if (w->closed) continue;
        w->closed = true;
        uv_close(reinterpret_cast<uv_handle_t*>(w->tcp), free_raft_handle);
    }
    self->maybe_finish_close();
}

void group_transport::maybe_finish_close() {
    if (!closing_ || close_posted_ || !connects_.empty() || !acks_.empty()) return;
    close_posted_ = true;
    // Deferred to a later turn of the loop so that raft_uv never gets its close callback from
    // inside its own call to close().
    auto fire = [this] { close_cb_(&transport_); };
    if (!loop_->post(fire)) fire();
}

// ---- cluster_listener -----------------------------------------------------------------------

// An accepted connection whose preamble is still being read.
struct cluster_listener::handshake {
    cluster_listener* owner = nullptr;
    uv_tcp_t* tcp = nullptr;  // raft_malloc'd, so it can go to raft_uv as it is
    preamble_reader reader;
    uint64_t accepted_ms = 0;
};

cluster_listener::cluster_listener(std::shared_ptr<group_registry> registry, raft_loop* loop)
    : registry_(std::move(registry)), loop_(loop) {}

cluster_listener::~cluster_listener() {
    ES_ASSERT(done());
}

status cluster_listener::start(const std::string& address) {
    auto fail = [&](const std::string& what, int rv) -> status {
        close();
        return make_error(errc::io_error, "cluster address " + address + ": " + what +
                                              (rv != 0 ? std::string(": ") + uv_strerror(rv) : ""));
    };
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(address, host, port)) return fail("not host:port", 0);

    uv_loop_t* loop = loop_->loop();
    uv_tcp_init(loop, &server_);
    server_.data = this;
    ++open_handles_;
    uv_timer_init(loop, &sweep_timer_);
    sweep_timer_.data = this;
    ++open_handles_;

    sockaddr_storage addr;
    if (!numeric_address(host, port, addr)) {
        // Resolved once, synchronously (no callback): start() runs before any group does.
        uv_getaddrinfo_t req;
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        int rv =
            uv_getaddrinfo(loop, &req, nullptr, host.c_str(), std::to_string(port).c_str(), &hints);
        if (rv != 0) return fail("resolve", rv);
        std::memcpy(&addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
        uv_freeaddrinfo(req.addrinfo);
    }
    if (int rv = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&addr), 0); rv != 0) {
        return fail("bind", rv);
    }
    if (int rv = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 128,
                           &cluster_listener::on_connection);
        rv != 0) {
        return fail("listen", rv);
    }
    sockaddr_storage bound;
    int len = sizeof bound;
    if (int rv = uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &len); rv != 0) {
        return fail("getsockname", rv);
    }
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    uv_timer_start(
        &sweep_timer_,
        [](uv_timer_t* timer) { static_cast<cluster_listener*>(timer->data)->sweep(); }, 1000,
        1000);
    return {};
}

void cluster_listener::close() {
    if (closed_) return;
    closed_ = true;
    auto closed = [](uv_handle_t* handle) {
        static_cast<cluster_listener*>(handle->data)->open_handles_--;
    };
    if (open_handles_ >= 2) {
        uv_close(reinterpret_cast<uv_handle_t*>(&server_), closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), closed);
    }
    std::vector<handshake*> open(handshakes_.begin(), handshakes_.end());
    for (handshake* h : open) drop(h);
}

void cluster_listener::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<cluster_listener*>(server->data);
    if (status != 0 || self->closed_) return;
    uv_tcp_t* tcp = new_tcp(self->loop_->loop());
    if (tcp == nullptr) return;
    auto* h = new handshake;
    h->owner = self;
    h->tcp = tcp;
    h->accepted_ms = uv_now(self->loop_->loop());
    tcp->data = h;
    ++self->open_handles_;
    self->handshakes_.insert(h);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(tcp)) != 0 ||
        self->handshakes_.size() > k_handshakes_max) {
        self->drop(h);
        return;
    }
    int rv = uv_read_start(
        reinterpret_cast<uv_stream_t*>(tcp),
        [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
            // Only the bytes the preamble still lacks: nothing of raft_uv's stream is read here.
            auto* h = static_cast<handshake*>(handle->data);
            std::span<std::byte> want = h->reader.next_buffer();
            *buf = uv_buf_init(reinterpret_cast<char*>(want.data()),
                               static_cast<unsigned>(want.size()));
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
            auto* h = static_cast<handshake*>(stream->data);
            if (nread == 0) return;
            if (nread < 0) {
                h->owner->drop(h);
                return;
            }
            switch (h->reader.advance(static_cast<size_t>(nread))) {
                case preamble_reader::state::need_more:
                    return;
                case preamble_reader::state::malformed:
                    h->owner->drop(h);
                    return;
                case preamble_reader::state::complete:
                    h->owner->on_preamble(h);
                    return;
            }
        });
    if (rv != 0) self->drop(h);
}

void cluster_listener::on_preamble(handshake* h) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(h->tcp));
    preamble caller = h->reader.value();
    if (caller.cluster_id != registry_->cluster_id()) {
        // Started with another member list, or of another cluster: no Raft message from it
        // may reach a group here. Said at most every 10 s, as the caller retries every 200 ms.
        const uint64_t now = uv_now(loop_->loop());
        if (refusal_logged_ms_ == 0 || now - refusal_logged_ms_ >= 10'000) {
            refusal_logged_ms_ = now;
            spdlog::error(
                "cluster: refused node {} at {}: its member list (cluster id {:016x}) is not "
                "this node's ({:016x}); every node must be started with the same --peers",
                caller.node_id, caller.address, caller.cluster_id, registry_->cluster_id());
        }
        drop(h);
        return;
    }
    if (caller.group_id == k_rpc_group_id) {
        // Node-to-node requests: the socket leaves libuv (a duplicate outlives the handle, which
        // is closed here) for the request server's own threads.
        uv_os_fd_t fd = -1;
        if (!rpc_accept_ || uv_fileno(reinterpret_cast<uv_handle_t*>(h->tcp), &fd) != 0) {
            drop(h);
            return;
        }
        const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        drop(h);
        if (moved >= 0) rpc_accept_(moved, caller.node_id);
        return;
    }
    std::optional<group_registry::entry> entry = registry_->find(caller.group_id);
    if (!entry) {
        // No such group here (never opened, or closed): the caller's raft_uv retries later.
        drop(h);
        return;
    }
    if (entry->loop == loop_) {
        // The group lives on this loop: its transport gets the handle itself.
        handshakes_.erase(h);
        --open_handles_;
        uv_tcp_t* tcp = h->tcp;
        tcp->data = nullptr;
        delete h;
        entry->transport->accept_connection(tcp, std::move(caller));
        return;
    }
    // Another loop owns the group: a libuv handle cannot move between loops, so the socket
    // does, as a duplicated descriptor that the owner opens as a handle of its own.
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(h->tcp), &fd) != 0) {
        drop(h);
        return;
    }
    auto moved = std::make_shared<owned_fd>(::dup(fd));
    drop(h);
    if (moved->fd < 0) return;
    raft_loop* target = entry->loop;
    std::shared_ptr<group_registry> registry = registry_;
    target->post([registry, target, moved, caller = std::move(caller)]() mutable {
        // Looked up again on the owning thread: the group may have closed (or reopened with a
        // new transport) since; only there is the transport pointer safe to use.
        std::optional<group_registry::entry> now = registry->find(caller.group_id);
        if (!now || now->loop != target) return;
        now->transport->accept_fd(moved->release(), std::move(caller));
    });
}

void cluster_listener::drop(handshake* h) {
    handshakes_.erase(h);
    uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(h->tcp);
    if (uv_is_closing(handle)) return;
    uv_close(handle, [](uv_handle_t* handle) {
        auto* h = static_cast<handshake*>(handle->data);
        h->owner->open_handles_--;
        raft_free(handle);
        delete h;
    });
}

void cluster_listener::sweep() {
    const uint64_t now = uv_now(loop_->loop());
    std::vector<handshake*> stale;
    for (handshake* h : handshakes_) {
        if (now - h->accepted_ms >= k_handshake_timeout_ms) stale.push_back(h);
    }
    for (handshake* h : stale) drop(h);
}

}  // namespace es::replication
