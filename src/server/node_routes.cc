// Health and metrics endpoints.
#include "server/node_routes.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "metrics/prometheus.h"
#include "metrics/registry.h"

namespace es::server {
namespace {

const char* state_word(node_state s) {
    switch (s) {
        case node_state::created:
        case node_state::starting:
            return "starting";
        case node_state::running:
            return "ready";
        case node_state::stopping:
        case node_state::stopped:
            return "stopping";
    }
    return "stopping";
}

}  // namespace

void add_health_routes(http_router& router, std::function<node_state()> state, uint32_t node_id) {
    router.add("GET", "/health/live",
               [](const http_request&) { return json_ok(R"({"status":"live"})"); });
    router.add("GET", "/health/ready", [state](const http_request&) {
        const node_state s = state();
        http_response r = json_ok(nlohmann::json{{"status", state_word(s)}}.dump());
        if (s != node_state::running) r.status = 503;
        return r;
    });
    router.add("GET", "/health", [state, node_id](const http_request&) {
        const bool running = state() == node_state::running;
        http_response r = json_ok(nlohmann::json{
            {"status", running ? "passing" : "critical"},
            {"node_id", node_id}}.dump());
        if (!running) r.status = 503;
        return r;
    });
}

void add_metrics_route(http_router& router, const metrics::registry& registry) {
    router.add("GET", "/metrics", [&registry](const http_request&) {
        http_response r;
        r.content_type = metrics::prometheus_content_type;
        metrics::write_prometheus(registry, r.body);
        return r;
    });
}

}  // namespace es::server
