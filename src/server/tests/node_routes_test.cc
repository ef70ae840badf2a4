// Tests of the health and metrics endpoints against each node state.
#include "server/node_routes.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>

#include "metrics/registry.h"

namespace es::server {
namespace {

http_response call(const http_router& router, std::string_view path) {
    http_request r;
    r.method = "GET";
    r.target = path;
    r.path = path;
    return router.route(r);
}

TEST(node_routes_test, health_follows_the_node_state) {
    std::atomic<node_state> state{node_state::starting};
    http_router router;
    add_health_routes(
        router, [&] { return state.load(); }, 3);

    struct expectation {
        node_state state;
        unsigned ready_status;
        const char* ready;
        unsigned health_status;
        const char* health;
    };
    for (const auto& e : {expectation{node_state::starting, 503, "starting", 503, "critical"},
                          expectation{node_state::running, 200, "ready", 200, "passing"},
                          expectation{node_state::stopping, 503, "stopping", 503, "critical"}}) {
        state = e.state;
        const auto live = call(router, "/health/live");
        EXPECT_EQ(live.status, 200u);  // alive in every state
        const auto ready = call(router, "/health/ready");
        EXPECT_EQ(ready.status, e.ready_status) << e.ready;
        EXPECT_EQ(nlohmann::json::parse(ready.body)["status"], e.ready);
        const auto health = call(router, "/health");
        EXPECT_EQ(health.status, e.health_status) << e.health;
        EXPECT_EQ(nlohmann::json::parse(health.body),
                  nlohmann::json({{"status", e.health}, {"node_id", 3}}));
    }
}

TEST(node_routes_test, metrics_are_prometheus_text) {
    metrics::registry registry;
    auto c = registry.add_counter("eventstream_test_total", "a test counter");
    ASSERT_TRUE(c);
    (*c)->inc(5);
    http_router router;
    add_metrics_route(router, registry);
    const auto r = call(router, "/metrics");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
    EXPECT_NE(r.body.find("eventstream_test_total 5"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace es::server
