// The answering side of node-to-node requests (raft_host::call): connections whose preamble
// named k_rpc_group_id come here from the cluster listener as plain socket descriptors. One
// poll thread reads every connection's request frames (rpc_frame.h) and queues them for a few
// worker threads that run the handler; replies are written from whichever thread calls the
// reply, one frame at a time per connection. Internal to src/replication.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "replication/raft_host.h"

namespace es::replication {

// Most request connections open at once; more are closed as they arrive (before the ack).
inline constexpr size_t k_rpc_connections_max = 256;
// Longest a reply may wait for room in the socket before the connection is given up.
inline constexpr int64_t k_rpc_write_timeout_ms = 10'000;

struct rpc_server_options {
    uint32_t threads = 2;       // worker threads running the handler (at least 1)
    uint32_t queue_max = 256;   // requests waiting for a worker; beyond: queue_full
    uint64_t idle_ms = 60'000;  // a connection with no request for this long is closed
    size_t connections_max = k_rpc_connections_max;
};

class rpc_server {
  public:
    explicit rpc_server(rpc_server_options options);
    // Stops if still running.
    ~rpc_server();
    rpc_server(const rpc_server&) = delete;
    rpc_server& operator=(const rpc_server&) = delete;

    // Starts the poll and worker threads. Error: io_error. Call once.
    status start();
    // Requests arriving before this is called are answered with not_supported. Any thread.
    void set_handler(rpc_handler handler);
    // Takes over `fd`, a connection whose rpc preamble from `from_node` was read, writes the ack
    // and reads its requests. Closes it instead when stopping or at connections_max. Any
    // thread; never blocks (the cluster listener's loop calls it).
    void adopt(int fd, uint64_t from_node);
    // Closes every connection (callers see them close; replies after this are dropped) and
    // stops the poll thread; later adopt() calls close their descriptor. Idempotent.
    void close_connections();
    // close_connections(), then joins the workers: waits for every running handler to return
    // (queued requests are dropped). Idempotent. Not from a worker thread.
    void stop();

    // Connections open right now (adopted and not yet closed). Any thread.
    size_t connection_count() const;

  private:
    struct connection;
    struct task;

    void poll_main();
    void worker_main();
    void wake();
    // Poll thread: reads what `c` has; false when it must be closed.
    bool read_connection(const std::shared_ptr<connection>& c);
    void dispatch(const std::shared_ptr<connection>& c, uint64_t request_id,
                  std::vector<std::byte> body);
    void close_connection(connection& c);

    // Constant after construction.
    const rpc_server_options options_;
    int wake_fd_ = -1;  // eventfd; set by start()

    mutable std::mutex mutex_;
    std::condition_variable work_cv_;
    std::shared_ptr<const rpc_handler> handler_;        // guarded by mutex_
    std::deque<task> queue_;                            // guarded by mutex_
    std::vector<std::shared_ptr<connection>> adopted_;  // guarded by mutex_; for the poll thread
    size_t open_connections_ = 0;                       // guarded by mutex_
    bool closing_ = false;                              // guarded by mutex_
    bool stopping_workers_ = false;                     // guarded by mutex_

    // Threads; touched by start(), close_connections() and stop() (one caller at a time).
    std::thread poll_thread_;
    std::vector<std::thread> workers_;
    bool started_ = false;
    bool poll_joined_ = false;
    bool workers_joined_ = false;
    std::mutex stop_mutex_;  // serializes close_connections() and stop()

    // Poll thread only.
    std::vector<std::shared_ptr<connection>> connections_;
};

}  // namespace es::replication
