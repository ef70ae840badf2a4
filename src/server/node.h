// One eventstream node assembled from its configuration: the data directory lock, the engine,
// the listeners and ports.json, with an orderly start and a draining stop.
#pragma once

#include <cstdint>
#include <memory>

#include "common/config.h"
#include "common/result.h"

namespace es::core {
class engine;
}  // namespace es::core

namespace es::metrics {
class registry;
}  // namespace es::metrics

namespace es::server {

// The ports the node listens on, after port 0 was resolved.
struct node_ports {
    uint16_t http = 0;
    uint16_t grpc = 0;
    uint16_t native = 0;
    uint16_t cluster = 0;
};

enum class node_state { created, starting, running, stopping, stopped };

// Lifecycle: start() once, then wait_for_stop_request() (or request_stop() from anywhere), then
// stop(). The destructor stops a running node.
//
// Threads: start(), wait_for_stop_request() and stop() belong to one controlling thread (main).
// The node runs a small pool of Asio threads for the listeners and the engine's workers.
class node {
  public:
    // `handle_signals`: SIGINT and SIGTERM request a stop, and a second one while stopping ends
    // the process at once. Processes that host a node in-process (tests) pass false.
    explicit node(node_config config, bool handle_signals = true);
    ~node();
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    // Takes the data directory, starts the engine, binds every listener, reports ready and then
    // writes ports.json (so a reader of the file finds /health/ready at 200). On an error
    // everything already started is stopped again and the node cannot be started again. Errors
    // name the field or the path: io_error (data directory unusable or locked, a port that
    // cannot be bound, ports.json not writable), config_error (bind address cannot be resolved).
    // REQUIRES: called once.
    status start();

    // Blocks until a stop is requested (signal or request_stop()). Returns at once if one
    // already was.
    void wait_for_stop_request();
    // Any thread, also an io thread or a signal handler's Asio callback. Does not block.
    void request_stop();

    // Stops accepting, closes connections, drains the engine (queued batches are appended and
    // delivered), removes ports.json and releases the data directory. Idempotent.
    void stop();

    node_state state() const noexcept;
    // Valid once start() succeeded.
    node_ports ports() const;
    const node_config& config() const;
    core::engine& engine();
    metrics::registry& metrics();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace es::server
