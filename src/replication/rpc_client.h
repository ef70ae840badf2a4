// The calling side of node-to-node requests (raft_host::call): blocking calls on the caller's
// thread over pooled connections to the cluster port of other nodes. Each call has a connection
// to itself for its whole exchange (taken from the address's idle pool, or newly opened with an
// rpc preamble), so concurrent calls never share a socket; a connection goes back to the pool
// only after a complete, matching reply. Internal to src/replication.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "replication/rpc_socket.h"

namespace es::replication {

// Idle connections kept per address, and how long one may sit idle before it is closed rather
// than reused: well under the answering side's idle time-out (host_options::rpc_idle_ms), so
// that a pooled connection is rarely closed under a request.
inline constexpr size_t k_rpc_pool_idle_max = 4;
inline constexpr int64_t k_rpc_pool_idle_ms = 20'000;

class rpc_client {
  public:
    // `cluster_id`, `node_id` and `self_address` go into every preamble.
    // REQUIRES: node_id >= 1; 1 <= self_address.size() <= k_preamble_address_bytes_max.
    rpc_client(uint64_t cluster_id, uint64_t node_id, std::string self_address);
    // stop().
    ~rpc_client();
    rpc_client(const rpc_client&) = delete;
    rpc_client& operator=(const rpc_client&) = delete;

    // See raft_host::call. Also invalid_argument for an address that is not "host:port". Any
    // thread; blocks for at most about `timeout` (a host name is resolved with getaddrinfo,
    // which has no deadline: cluster addresses are best numeric).
    result<std::vector<std::byte>> call(const std::string& address,
                                        std::span<const std::byte> request,
                                        std::chrono::milliseconds timeout);

    // Fails the calls in flight with unavailable, waits until they returned and closes the
    // pool; later calls fail at once. Idempotent; not from inside call().
    void stop();

  private:
    struct pooled {
        int fd = -1;
        uint64_t next_request_id = 1;
        rpc_clock::time_point idle_since;
    };

    result<pooled> take_or_connect(const std::string& address, rpc_clock::time_point deadline);
    result<pooled> connect(const std::string& address, rpc_clock::time_point deadline);
    result<std::vector<std::byte>> exchange(pooled& c, std::span<const std::byte> request,
                                            rpc_clock::time_point deadline, bool& reusable);
    void give_back(const std::string& address, pooled c);

    // Constant after construction.
    const uint64_t cluster_id_;
    const uint64_t node_id_;
    const std::string self_address_;
    // An eventfd that stop() makes readable for good: every wait of a call polls it too.
    const int cancel_fd_;

    std::mutex mutex_;
    std::condition_variable idle_cv_;
    bool stopping_ = false;                            // guarded by mutex_
    int calls_ = 0;                                    // guarded by mutex_
    std::map<std::string, std::vector<pooled>> pool_;  // guarded by mutex_
};

}  // namespace es::replication
