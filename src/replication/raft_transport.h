// Our raft_uv_transport: every Raft group of a node shares ONE TCP listener. A connection starts
// with a preamble naming the group and the caller (raft_preamble.h); the cluster_listener reads
// it, finds the group's transport, moves the socket to the group's loop thread if needed and
// hands it to raft_uv. A preamble naming k_rpc_group_id instead sends the socket, detached from
// libuv, to the node-to-node request server (rpc_server.h). Internal to src/replication.
//
// Connect side (group_transport::connect, on the group's loop): resolve "host:port", TCP
// connect, write the preamble, wait for the one-byte ack, then give the stream to raft_uv.
// Failures reach raft_uv as RAFT_NOCONNECTION (it retries after its own delay); connects still
// pending when the transport closes end with RAFT_CANCELED.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/result.h"
#include "replication/raft_c.h"
#include "replication/raft_loop.h"
#include "replication/raft_preamble.h"

namespace es::replication {

class group_transport;

// Which transport (and loop) listens for each group. Shared by the listener and the transports;
// held by shared_ptr so that a hand-over task queued on a loop can still look a group up after
// the listener is gone.
class group_registry {
  public:
    // `cluster_id` goes into every outgoing preamble, and an incoming one must carry it.
    explicit group_registry(uint64_t cluster_id = 0) : cluster_id_(cluster_id) {}
    uint64_t cluster_id() const noexcept { return cluster_id_; }

    struct entry {
        group_transport* transport = nullptr;
        raft_loop* loop = nullptr;
    };
    // Any thread.
    void add(uint64_t group_id, group_transport* transport, raft_loop* loop);
    // Removes the entry only if it still names `transport`. Any thread.
    void remove(uint64_t group_id, group_transport* transport);
    // A copy of the entry. The transport pointer may be used only on entry.loop's thread: a
    // transport unregisters itself there before it goes away.
    std::optional<entry> find(uint64_t group_id) const;

  private:
    const uint64_t cluster_id_;
    mutable std::mutex mutex_;
    std::unordered_map<uint64_t, entry> entries_;  // guarded by mutex_
};

// How long an outgoing connection may take from connect() to the peer's ack of the preamble.
// Past it the attempt fails and raft_uv tries again after its retry delay. Without it a peer
// whose host drops packets (down, or cut off by a partition) holds the attempt for the kernel's
// SYN retries, about two minutes, and one that accepts but never answers (a stopped process
// whose kernel still completes handshakes) holds it for ever; either way the group's messages
// to that peer wait, and after a partition heals the peer hears nothing until the attempt ends.
inline constexpr uint64_t k_connect_timeout_ms = 2'000;

// One group's raft_uv_transport. Created and destroyed on its loop thread; every member
// function runs there.
class group_transport {
  public:
    group_transport(std::shared_ptr<group_registry> registry, raft_loop* loop, uint64_t group_id,
                    uint64_t connect_timeout_ms = k_connect_timeout_ms);
    ~group_transport();
    group_transport(const group_transport&) = delete;
    group_transport& operator=(const group_transport&) = delete;

    // What raft_uv_init takes.
    struct raft_uv_transport* get() noexcept {
        return &transport_;
    }

    // A connection whose preamble named this group, already on this loop. Writes the ack, then
    // gives the stream to raft_uv. Takes ownership of `tcp` (allocated with raft_malloc).
    void accept_connection(uv_tcp_t* tcp, preamble caller);
    // The same for a socket detached from the listener's loop: `fd` is owned from here on.
    void accept_fd(int fd, preamble caller);

  private:
    struct connect_attempt;
    struct ack_write;

    static int on_init(struct raft_uv_transport* t, raft_id id, const char* address);
    static int on_listen(struct raft_uv_transport* t, raft_uv_accept_cb cb);
    static int on_connect(struct raft_uv_transport* t, struct raft_uv_connect* req, raft_id id,
                          const char* address, raft_uv_connect_cb cb);
    static void on_close(struct raft_uv_transport* t, raft_uv_transport_close_cb cb);

    void start_timer(connect_attempt* a);
    void start_tcp_connect(connect_attempt* a, const struct sockaddr* addr);
    void fail_connect(connect_attempt* a);
    void finish_connect(connect_attempt* a, bool connected);
    void maybe_finish_close();

    // Constant after construction.
    std::shared_ptr<group_registry> registry_;
    raft_loop* loop_;
    const uint64_t group_id_;
    const uint64_t connect_timeout_ms_;

    // Loop thread only.
    struct raft_uv_transport transport_ {};
    uint64_t self_id_ = 0;
    std::string self_address_;
    raft_uv_accept_cb accept_cb_ = nullptr;
    bool closing_ = false;
    bool close_posted_ = false;
    raft_uv_transport_close_cb close_cb_ = nullptr;
    std::unordered_set<connect_attempt*> connects_;
    std::unordered_set<ack_write*> acks_;
};

// Limits on the listener's side of the handshake (STYLE.md: a limit on everything from outside).
inline constexpr size_t k_handshakes_max = 256;
inline constexpr uint64_t k_handshake_timeout_ms = 10'000;

// The node's one cluster port. Lives on one loop; start() and close() run there.
class cluster_listener {
  public:
    cluster_listener(std::shared_ptr<group_registry> registry, raft_loop* loop);
    ~cluster_listener();

    // Takes connections whose preamble named k_rpc_group_id: `accept(fd, caller node id)` runs on
    // the listener's loop, owns `fd` (a non-blocking socket no longer known to libuv) and must
    // not block. Without one such connections are closed. Call before start().
    void set_rpc_acceptor(std::function<void(int fd, uint64_t from_node)> accept) {
        rpc_accept_ = std::move(accept);
    }

    // Binds `address` ("host:port", port 0 picks one) and listens. Error: io_error naming it.
    // Loop thread only.
    status start(const std::string& address);
    // The bound port. Any thread after start().
    uint16_t port() const noexcept { return port_; }
    // Stops listening and closes half-done handshakes; done() turns true once every handle is
    // closed. Loop thread only.
    void close();
    bool done() const noexcept { return open_handles_ == 0; }

  private:
    struct handshake;
    static void on_connection(uv_stream_t* server, int status);
    void on_preamble(handshake* h);
    void drop(handshake* h);
    void sweep();

    // Constant after construction.
    std::shared_ptr<group_registry> registry_;
    raft_loop* loop_;
    uint16_t port_ = 0;
    std::function<void(int fd, uint64_t from_node)> rpc_accept_;  // set before start()

    // Loop thread only.
    uv_tcp_t server_{};
    uv_timer_t sweep_timer_{};
    size_t open_handles_ = 0;
    bool closed_ = false;
    std::unordered_set<handshake*> handshakes_;
    uint64_t refusal_logged_ms_ = 0;  // last warning about a node of another cluster
};

// Splits "host:port" ("[::1]:7071" for IPv6). False when there is no port or it is not 0..65535.
bool split_host_port(const std::string& address, std::string& host, uint16_t& port);

}  // namespace es::replication
