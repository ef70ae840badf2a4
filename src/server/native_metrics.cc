// Registration of the native listener's metrics.
#include "server/native_metrics.h"

#include <spdlog/spdlog.h>

#include "metrics/registry.h"

namespace es::server {
namespace {

template <class T>
std::shared_ptr<T> or_unexported(result<std::shared_ptr<T>> r, std::string_view name) {
    if (r) return std::move(*r);
    spdlog::warn("metrics: {} not exported: {}", name, r.err().message);
    return std::make_shared<T>();
}

const char* kind_name(native_error_kind k) {
    switch (k) {
        case native_error_kind::protocol:
            return "protocol";
        case native_error_kind::refused:
            return "refused";
        case native_error_kind::handshake_timeout:
            return "handshake_timeout";
        case native_error_kind::idle_timeout:
            return "idle_timeout";
        case native_error_kind::frame_timeout:
            return "frame_timeout";
        case native_error_kind::write_timeout:
            return "write_timeout";
        case native_error_kind::connections_max:
            return "connections_max";
        case native_error_kind::count_:
            break;
    }
    return "unknown";
}

}  // namespace

native_metrics::native_metrics(metrics::registry* registry) {
    auto counter = [registry](std::string_view name, std::string_view help,
                              metrics::label_set labels = {}) {
        if (registry == nullptr) return std::make_shared<metrics::counter>();
        return or_unexported(registry->add_counter(name, help, std::move(labels)), name);
    };
    if (registry == nullptr) {
        connections = std::make_shared<metrics::gauge>();
    } else {
        connections = or_unexported(registry->add_gauge("eventstream_native_connections",
                                                        "Native protocol TCP connections open now"),
                                    "eventstream_native_connections");
    }
    connections_accepted = counter("eventstream_native_connections_accepted_total",
                                   "Native protocol TCP connections accepted");
    frames_received =
        counter("eventstream_native_frames_received_total", "Native protocol frames received");
    frames_sent = counter("eventstream_native_frames_sent_total", "Native protocol frames sent");
    requests = counter("eventstream_native_requests_total",
                       "Native protocol requests handled (every frame after HELLO)");
    events_published = counter("eventstream_native_events_published_total",
                               "Events accepted from native PUBLISH frames over TCP");
    publishes_lent = counter("eventstream_native_publishes_lent_total",
                             "Native PUBLISH frames whose events the engine read where they "
                             "were received, without a copy into the ingest queue");
    events_delivered = counter("eventstream_native_events_delivered_total",
                               "Events sent to native subscribers in EVENTS frames");
    for (int i = 0; i < static_cast<int>(native_error_kind::count_); ++i) {
        errors[i] = counter("eventstream_native_errors_total",
                            "Native protocol errors: refused requests, and connections closed "
                            "by the server, by kind",
                            {{"kind", kind_name(static_cast<native_error_kind>(i))}});
    }
    const char* udp_help = "UDP datagrams on the native port, by what became of them";
    udp_accepted = counter("eventstream_udp_datagrams_total", udp_help, {{"result", "accepted"}});
    udp_dropped = counter("eventstream_udp_datagrams_total", udp_help, {{"result", "dropped"}});
    udp_malformed = counter("eventstream_udp_datagrams_total", udp_help, {{"result", "malformed"}});
}

}  // namespace es::server
