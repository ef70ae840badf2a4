// Metrics of the native protocol's listener, TCP and UDP (names in docs/metrics.md).
#pragma once

#include <memory>

#include "metrics/counter.h"
#include "metrics/gauge.h"

namespace es::metrics {
class registry;
}  // namespace es::metrics

namespace es::server {

// Why a connection was closed by the server, or a request refused.
enum class native_error_kind {
    protocol,           // a protocol error: ERROR, then close
    refused,            // a request answered with ERROR
    handshake_timeout,  // no HELLO in time
    idle_timeout,       // no frame for the idle timeout
    frame_timeout,      // a started frame not finished in time (slowloris)
    write_timeout,      // a client that does not read: a write not finished in time
    connections_max,    // too many connections
    count_
};

struct native_metrics {
    // `registry` may be null (nothing exported). REQUIRES: it outlives this object.
    explicit native_metrics(metrics::registry* registry);

    std::shared_ptr<metrics::gauge> connections;
    std::shared_ptr<metrics::counter> connections_accepted;
    std::shared_ptr<metrics::counter> frames_received;
    std::shared_ptr<metrics::counter> frames_sent;
    std::shared_ptr<metrics::counter> requests;
    std::shared_ptr<metrics::counter> events_published;
    // PUBLISH frames whose events the engine read where they were received (lent).
    std::shared_ptr<metrics::counter> publishes_lent;
    std::shared_ptr<metrics::counter> events_delivered;
    std::shared_ptr<metrics::counter> errors[static_cast<int>(native_error_kind::count_)];
    std::shared_ptr<metrics::counter> udp_accepted;
    std::shared_ptr<metrics::counter> udp_dropped;
    std::shared_ptr<metrics::counter> udp_malformed;

    metrics::counter& error(native_error_kind k) const { return *errors[static_cast<int>(k)]; }
};

}  // namespace es::server
