// Metrics of the HTTP and WebSocket edges: per-topic publish and delivery counters and publish
// latency, by transport (label transport="http" or "websocket"), and the open subscriptions and
// WebSocket connections. Names in docs/metrics.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "metrics/counter.h"
#include "metrics/gauge.h"
#include "metrics/histogram.h"

namespace es::metrics {
class registry;
}  // namespace es::metrics

namespace es::server {

enum class transport { http, websocket };

struct topic_edge_metrics {
    std::shared_ptr<metrics::counter> publish_requests;      // publish requests/messages answered
    std::shared_ptr<metrics::counter> publish_errors;        // ... of those answered with an error
    std::shared_ptr<metrics::counter> events_published;      // events accepted
    std::shared_ptr<metrics::histogram> publish_latency_ns;  // request read to answer ready
    std::shared_ptr<metrics::counter> events_delivered;      // events sent to subscribers
};

class rest_metrics {
  public:
    // `registry` may be null: the metrics count but are not exported. REQUIRES: it outlives
    // this object.
    explicit rest_metrics(metrics::registry* registry);

    // The series of one topic, registered on first use. Any thread. If the registry refuses
    // (series limit), unexported metrics are returned, so callers never check.
    std::shared_ptr<const topic_edge_metrics> for_topic(std::string_view topic, transport via);
    // Stops exporting a deleted topic's series. Any thread.
    void forget_topic(std::string_view topic);

    metrics::gauge& http_subscriptions() { return *http_subscriptions_; }
    metrics::gauge& websocket_connections() { return *websocket_connections_; }
    metrics::counter& websocket_message_timeouts() { return *websocket_message_timeouts_; }

  private:
    std::shared_ptr<const topic_edge_metrics> lookup(std::string_view topic, transport via);

    metrics::registry* const registry_;
    // Bumped by forget_topic(), so that per-thread caches of for_topic() are dropped.
    std::atomic<uint64_t> generation_{0};
    std::shared_ptr<metrics::gauge> http_subscriptions_;
    std::shared_ptr<metrics::gauge> websocket_connections_;
    std::shared_ptr<metrics::counter> websocket_message_timeouts_;

    std::mutex mutex_;
    std::map<std::pair<std::string, transport>, std::shared_ptr<const topic_edge_metrics>,
             std::less<>>
        topics_;  // guarded by mutex_
};

}  // namespace es::server
