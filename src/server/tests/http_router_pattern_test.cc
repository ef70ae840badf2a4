// Tests of http_router's path patterns, query parameters, asynchronous handlers and route table.
#include <gtest/gtest.h>

#include <optional>

#include "server/http_router.h"

namespace es::server {
namespace {

http_request make(std::string_view method, std::string_view target) {
    http_request r;
    r.method = method;
    r.set_target(target);
    return r;
}

TEST(http_router_pattern_test, parameters_match_one_non_empty_segment) {
    http_router router;
    router.add("GET", "/v1/topics/{name}", [](const http_request& r) {
        return json_ok("\"" + std::string(r.param("name")) + "\"");
    });
    router.add("GET", "/v1/subscriptions/{id}/events",
               [](const http_request& r) { return json_ok(std::string(r.param("id"))); });
    EXPECT_EQ(router.route(make("GET", "/v1/topics/orders")).body, "\"orders\"");
    EXPECT_EQ(router.route(make("GET", "/v1/topics/a%2Eb")).body, "\"a.b\"");
    EXPECT_EQ(router.route(make("GET", "/v1/subscriptions/42/events?max=1")).body, "42");
    EXPECT_EQ(router.route(make("GET", "/v1/topics/")).status, 404u);
    EXPECT_EQ(router.route(make("GET", "/v1/topics/a/b")).status, 404u);
    EXPECT_EQ(router.route(make("GET", "/v1/topics")).status, 404u);
    EXPECT_EQ(router.route(make("GET", "/v1/subscriptions//events")).status, 404u);
}

TEST(http_router_pattern_test, literal_routes_win_and_methods_fall_through) {
    http_router router;
    router.add("GET", "/v1/topics/{name}", [](const http_request&) { return json_ok("1"); });
    router.add("DELETE", "/v1/topics/{name}", [](const http_request&) { return json_ok("2"); });
    router.add("POST", "/v1/topics/subscribe", [](const http_request&) { return json_ok("3"); });
    EXPECT_EQ(router.route(make("POST", "/v1/topics/subscribe")).body, "3");
    // GET of a topic named "subscribe" reaches the pattern.
    EXPECT_EQ(router.route(make("GET", "/v1/topics/subscribe")).body, "1");
    const auto r = router.route(make("PUT", "/v1/topics/subscribe"));
    EXPECT_EQ(r.status, 405u);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].second, "DELETE, GET, POST");
}

TEST(http_router_pattern_test, asynchronous_handlers_answer_later) {
    http_router router;
    std::optional<http_responder> saved;
    router.add_async("POST", "/later", [&](const http_request&, http_responder respond) {
        saved = std::move(respond);
    });
    router.add_async("POST", "/now", [](const http_request&, http_responder respond) {
        respond(json_ok("\"now\""));
    });
    EXPECT_EQ(router.route(make("POST", "/now")).body, "\"now\"");
    std::optional<http_response> got;
    router.route(make("POST", "/later"), [&](http_response r) { got = std::move(r); });
    EXPECT_FALSE(got);
    ASSERT_TRUE(saved);
    (*saved)(json_ok("\"later\""));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->body, "\"later\"");
    // The synchronous form gives 500 for a handler that did not answer at once.
    EXPECT_EQ(router.route(make("POST", "/later")).status, 500u);
}

TEST(http_router_pattern_test, route_table_lists_methods_and_patterns) {
    http_router router;
    router.add("GET", "/b/{x}", [](const http_request&) { return json_ok("1"); });
    router.add("GET", "/a", [](const http_request&) { return json_ok("1"); });
    router.add_async("POST", "/a", [](const http_request&, http_responder) {});
    const auto routes = router.routes();
    ASSERT_EQ(routes.size(), 3u);
    EXPECT_EQ(routes[0], (http_route_info{"GET", "/a"}));
    EXPECT_EQ(routes[1], (http_route_info{"GET", "/b/{x}"}));
    EXPECT_EQ(routes[2], (http_route_info{"POST", "/a"}));
}

TEST(http_router_pattern_test, query_parameters_are_decoded) {
    const auto r = make("GET", "/x?a=1&b=x%20y+z&c&d=%zz&a=2");
    EXPECT_EQ(r.query_param("a"), "1");
    EXPECT_EQ(r.query_param("b"), "x y z");
    EXPECT_EQ(r.query_param("c"), "");
    EXPECT_EQ(r.query_param("d"), "%zz");
    EXPECT_FALSE(r.query_param("e"));
    EXPECT_EQ(percent_decode("%41%4a%", false), "AJ%");
    EXPECT_EQ(percent_decode("a+b", false), "a+b");
}

TEST(http_router_pattern_test, queue_full_and_shutting_down_say_retry_after) {
    for (const auto code : {errc::queue_full, errc::shutting_down}) {
        const auto r = json_error(make_error(code, "busy"));
        ASSERT_EQ(r.headers.size(), 1u);
        EXPECT_EQ(r.headers[0].first, "Retry-After");
    }
    EXPECT_EQ(json_error(make_error(errc::queue_full, "x")).status, 429u);
    EXPECT_EQ(json_error(make_error(errc::not_supported, "x")).status, 501u);
    EXPECT_TRUE(json_error(make_error(errc::invalid_argument, "x")).headers.empty());
}

}  // namespace
}  // namespace es::server
