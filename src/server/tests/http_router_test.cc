// Tests of http_router (exact routes, 404, 405 with Allow) and the shared JSON error bodies.
#include "server/http_router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace es::server {
namespace {

http_request get(std::string_view method, std::string_view path) {
    http_request r;
    r.method = method;
    r.target = path;
    r.path = path;
    return r;
}

TEST(http_router_test, routes_by_method_and_exact_path) {
    http_router router;
    router.add("GET", "/a", [](const http_request&) { return json_ok(R"("get a")"); });
    router.add("POST", "/a", [](const http_request& r) { return json_ok(std::string(r.body)); });
    router.add("GET", "/a/b", [](const http_request&) { return json_ok(R"("get a/b")"); });

    EXPECT_EQ(router.route(get("GET", "/a")).body, R"("get a")");
    EXPECT_EQ(router.route(get("GET", "/a/b")).body, R"("get a/b")");
    auto post = get("POST", "/a");
    post.body = "[1]";
    EXPECT_EQ(router.route(post).body, "[1]");
    EXPECT_EQ(router.route(get("GET", "/a/")).status, 404u);  // exact paths only
}

TEST(http_router_test, later_add_replaces_the_handler) {
    http_router router;
    router.add("GET", "/a", [](const http_request&) { return json_ok("1"); });
    router.add("GET", "/a", [](const http_request&) { return json_ok("2"); });
    EXPECT_EQ(router.route(get("GET", "/a")).body, "2");
}

TEST(http_router_test, unknown_path_is_404_json) {
    http_router router;
    const auto r = router.route(get("GET", "/nope"));
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(nlohmann::json::parse(r.body),
              nlohmann::json::parse(
                  R"({"error":{"code":"not_found","message":"no route for GET /nope"}})"));
}

TEST(http_router_test, wrong_method_is_405_listing_the_allowed_ones) {
    http_router router;
    router.add("GET", "/a", [](const http_request&) { return json_ok("{}"); });
    router.add("DELETE", "/a", [](const http_request&) { return json_ok("{}"); });
    const auto r = router.route(get("PUT", "/a"));
    EXPECT_EQ(r.status, 405u);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "Allow");
    EXPECT_EQ(r.headers[0].second, "DELETE, GET");
    EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "method_not_allowed");
}

TEST(http_router_test, json_error_survives_invalid_utf8) {
    const auto r = json_error(404, "not_found", "no route for GET /\xff\xfe");
    const auto doc = nlohmann::json::parse(r.body);  // must not throw
    EXPECT_EQ(doc["error"]["code"], "not_found");
}

TEST(http_router_test, errc_maps_to_http_status) {
    EXPECT_EQ(http_status_of(errc::invalid_argument), 400u);
    EXPECT_EQ(http_status_of(errc::not_found), 404u);
    EXPECT_EQ(http_status_of(errc::already_exists), 409u);
    EXPECT_EQ(http_status_of(errc::too_large), 413u);
    EXPECT_EQ(http_status_of(errc::queue_full), 429u);
    EXPECT_EQ(http_status_of(errc::shutting_down), 503u);
    const auto r = json_error(make_error(errc::queue_full, "partition 3 is full"));
    EXPECT_EQ(r.status, 429u);
    const auto doc = nlohmann::json::parse(r.body);
    EXPECT_EQ(doc["error"]["code"], "queue_full");
    EXPECT_EQ(doc["error"]["message"], "partition 3 is full");
}

TEST(http_router_test, header_lookup_ignores_case) {
    http_request r;
    r.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("X-a"), "1");
    EXPECT_FALSE(r.header("accept"));
}

}  // namespace
}  // namespace es::server
