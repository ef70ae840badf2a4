// Registration of the edge metrics.
#include "server/rest_metrics.h"

#include <spdlog/spdlog.h>

#include "metrics/registry.h"

namespace es::server {
namespace {

const char* transport_name(transport t) {
    return t == transport::http ? "http" : "websocket";
}

template <class T>
std::shared_ptr<T> or_unexported(result<std::shared_ptr<T>> r, std::string_view name) {
    if (r) return std::move(*r);
    spdlog::warn("metrics: {} not exported: {}", name, r.err().message);
    return std::make_shared<T>();
}

}  // namespace

rest_metrics::rest_metrics(metrics::registry* registry) : registry_(registry) {
    if (registry_ == nullptr) {
        http_subscriptions_ = std::make_shared<metrics::gauge>();
        websocket_connections_ = std::make_shared<metrics::gauge>();
        websocket_message_timeouts_ = std::make_shared<metrics::counter>();
        return;
    }
    http_subscriptions_ = or_unexported(
        registry_->add_gauge("eventstream_http_subscriptions", "Long-poll subscriptions open now"),
        "eventstream_http_subscriptions");
    websocket_connections_ =
        or_unexported(registry_->add_gauge("eventstream_websocket_connections",
                                           "WebSocket connections on /v1/stream open now"),
                      "eventstream_websocket_connections");
    websocket_message_timeouts_ = or_unexported(
        registry_->add_counter("eventstream_websocket_message_timeouts_total",
                               "WebSocket connections closed because a message begun was not "
                               "finished in time (slowloris)"),
        "eventstream_websocket_message_timeouts_total");
}

std::shared_ptr<const topic_edge_metrics> rest_metrics::for_topic(std::string_view topic,
                                                                  transport via) {
    // Most requests of a thread name the topic its previous one did: a per-thread copy of the
    // last answer saves the lock and the map lookup. forget_topic() bumps the generation, which
    // drops every thread's copy.
    struct last_lookup {
        const rest_metrics* owner = nullptr;
        uint64_t generation = 0;
        transport via = transport::http;
        std::string topic;
        std::shared_ptr<const topic_edge_metrics> metrics;
    };
    thread_local last_lookup last;
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    if (last.owner == this && last.generation == generation && last.via == via &&
        last.topic == topic) {
        return last.metrics;
    }
    auto m = lookup(topic, via);
    last.owner = this;
    last.generation = generation;
    last.via = via;
    last.topic = std::string(topic);
    last.metrics = m;
    return m;
}

std::shared_ptr<const topic_edge_metrics> rest_metrics::lookup(std::string_view topic,
                                                               transport via) {
    std::lock_guard lock(mutex_);
    auto key = std::pair(std::string(topic), via);
    if (auto it = topics_.find(key); it != topics_.end()) return it->second;
    auto m = std::make_shared<topic_edge_metrics>();
    if (registry_ == nullptr) {
        m->publish_requests = std::make_shared<metrics::counter>();
        m->publish_errors = std::make_shared<metrics::counter>();
        m->events_published = std::make_shared<metrics::counter>();
        m->publish_latency_ns = std::make_shared<metrics::histogram>();
        m->events_delivered = std::make_shared<metrics::counter>();
    } else {
        const metrics::label_set labels = {{"topic", std::string(topic)},
                                           {"transport", transport_name(via)}};
        m->publish_requests =
            or_unexported(registry_->add_counter(
                              "eventstream_edge_publish_requests_total",
                              "Publish requests (HTTP) or messages (WebSocket) answered", labels),
                          "eventstream_edge_publish_requests_total");
        m->publish_errors = or_unexported(
            registry_->add_counter("eventstream_edge_publish_errors_total",
                                   "Publish requests or messages answered with an error", labels),
            "eventstream_edge_publish_errors_total");
        m->events_published = or_unexported(
            registry_->add_counter("eventstream_edge_events_published_total",
                                   "Events accepted from HTTP or WebSocket publishers", labels),
            "eventstream_edge_events_published_total");
        m->publish_latency_ns = or_unexported(
            registry_->add_histogram("eventstream_edge_publish_duration_seconds",
                                     "Time from a publish request read to its answer ready", labels,
                                     metrics::latency_ns_options),
            "eventstream_edge_publish_duration_seconds");
        m->events_delivered =
            or_unexported(registry_->add_counter(
                              "eventstream_edge_events_delivered_total",
                              "Events sent to HTTP long-poll and WebSocket subscribers", labels),
                          "eventstream_edge_events_delivered_total");
    }
    topics_.emplace(std::move(key), m);
    return m;
}

void rest_metrics::forget_topic(std::string_view topic) {
    generation_.fetch_add(1, std::memory_order_acq_rel);
    std::lock_guard lock(mutex_);
    for (const transport via : {transport::http, transport::websocket}) {
        auto key = std::pair(std::string(topic), via);
        if (topics_.erase(key) == 0 || registry_ == nullptr) continue;
        const metrics::label_set labels = {{"topic", std::string(topic)},
                                           {"transport", transport_name(via)}};
        for (const char* name :
             {"eventstream_edge_publish_requests_total", "eventstream_edge_publish_errors_total",
              "eventstream_edge_events_published_total",
              "eventstream_edge_publish_duration_seconds",
              "eventstream_edge_events_delivered_total"}) {
            (void)registry_->remove(name, labels);
        }
    }
}

}  // namespace es::server
