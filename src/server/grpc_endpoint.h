// The gRPC endpoint (eventstream.v1.EventService on the gRPC port), with the standard health
// service (grpc.health.v1) and server reflection. Kept behind this small header so that only
// grpc_*.cc files pay for gRPC's headers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace es::core {
class engine;
}
namespace es::metrics {
class registry;
}

namespace es::server {

struct grpc_endpoint_options {
    std::string bind = "127.0.0.1";
    uint16_t port = 8081;  // 0: pick a free one (see port())
    uint32_t node_id = 1;
    // Largest request message accepted (bytes).
    int max_receive_message_bytes = 8 << 20;
    // StreamEvents: requests, and events (batches count each of their events), read but not
    // yet answered, per stream; past either the server stops reading the stream until answers
    // have gone out.
    uint32_t stream_window = 1024;
    uint64_t stream_window_events = 65536;
};

class grpc_endpoint {
  public:
    // Binds and starts serving. Errors: io_error (the port cannot be bound, named).
    // REQUIRES: engine and registry outlive the endpoint.
    static result<std::unique_ptr<grpc_endpoint>> start(core::engine& engine,
                                                        metrics::registry& registry,
                                                        const grpc_endpoint_options& options);
    ~grpc_endpoint();
    grpc_endpoint(const grpc_endpoint&) = delete;
    grpc_endpoint& operator=(const grpc_endpoint&) = delete;

    uint16_t port() const noexcept;

    // Health turns to NOT_SERVING, new calls are refused, calls in progress get up to
    // `grace_ms` to finish, then are cancelled. Idempotent.
    void shutdown(int grace_ms = 2000);

  private:
    struct impl;
    explicit grpc_endpoint(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace es::server
