// The HTTP listener as a client sees it: health endpoints, JSON errors for unknown paths, wrong
// methods and malformed requests, the body and header limits, keep-alive, pipelining and
// /metrics.
#include <nlohmann/json.hpp>

#include <string>

#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"

namespace es::test {
namespace {

class server_http_test : public server_process_fixture {
  protected:
    void SetUp() override {
        server_process_fixture::SetUp();
        node_ = start_ready({}, &ports_);
        ASSERT_NE(node_, nullptr);
    }

    // The parsed JSON error body of a reply, checked for shape.
    static nlohmann::json error_of(const http_reply& reply) {
        EXPECT_EQ(reply.header("content-type"), "application/json");
        auto doc = nlohmann::json::parse(reply.body, nullptr, false);
        EXPECT_TRUE(doc.is_object() && doc.contains("error")) << reply.body;
        if (!doc.is_object() || !doc.contains("error")) return {};
        EXPECT_TRUE(doc["error"]["code"].is_string()) << reply.body;
        EXPECT_TRUE(doc["error"]["message"].is_string()) << reply.body;
        return doc["error"];
    }

    server_process* node_ = nullptr;
    server::ports_record ports_;
};

TEST_F(server_http_test, ready_once_started) {
    auto reply = http_call(ports_.http, "GET", "/health/ready");
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(nlohmann::json::parse(reply->body), nlohmann::json({{"status", "ready"}}));
}

TEST_F(server_http_test, unknown_path_is_404_with_json_error) {
    auto reply = http_call(ports_.http, "GET", "/x");
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 404);
    const auto e = error_of(*reply);
    EXPECT_EQ(e.value("code", ""), "not_found");
    EXPECT_EQ(e.value("message", ""), "no route for GET /x");
}

TEST_F(server_http_test, wrong_method_on_known_path_is_405_with_allow) {
    auto reply = http_call(ports_.http, "POST", "/health/live", "{}");
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 405);
    EXPECT_EQ(reply->header("allow"), "GET");
    EXPECT_EQ(error_of(*reply).value("code", ""), "method_not_allowed");
}

TEST_F(server_http_test, query_string_does_not_change_the_route) {
    auto reply = http_call(ports_.http, "GET", "/health/live?verbose=1");
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 200);
}

TEST_F(server_http_test, malformed_request_is_400_and_closes) {
    auto client = http_test_client::connect(ports_.http);
    ASSERT_TRUE(client) << client.err().message;
    ASSERT_TRUE(client->send_raw("this is not http\r\n\r\n"));
    auto reply = client->read_reply();
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 400);
    EXPECT_EQ(error_of(*reply).value("code", ""), "bad_request");
    EXPECT_TRUE(client->closed_by_server());
}

TEST_F(server_http_test, body_over_the_limit_is_413) {
    auto client = http_test_client::connect(ports_.http);
    ASSERT_TRUE(client) << client.err().message;
    // The header alone announces too much; the server answers without waiting for the body.
    ASSERT_TRUE(client->send_raw(
        "POST /health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"));
    auto reply = client->read_reply();
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 413);
    EXPECT_EQ(error_of(*reply).value("code", ""), "too_large");
}

TEST_F(server_http_test, headers_over_the_limit_are_431) {
    auto client = http_test_client::connect(ports_.http);
    ASSERT_TRUE(client) << client.err().message;
    // 20 KiB of headers, over the 16 KiB limit.
    ASSERT_TRUE(client->send_raw("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                 std::string(20 * 1024, 'h') + "\r\n\r\n"));
    auto reply = client->read_reply();
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 431);
    EXPECT_EQ(error_of(*reply).value("code", ""), "too_large");
    // The node goes on.
    auto again = http_test_client::connect(ports_.http);
    ASSERT_TRUE(again) << again.err().message;
    auto live = again->request("GET", "/health/live");
    ASSERT_TRUE(live) << live.err().message;
    EXPECT_EQ(live->status, 200);
}

TEST_F(server_http_test, pipelined_requests_are_answered_in_order) {
    auto client = http_test_client::connect(ports_.http);
    ASSERT_TRUE(client) << client.err().message;
    // Three requests in one write, before any answer.
    std::string three;
    for (const char* path : {"/health/live", "/nope", "/health/ready"}) {
        three += std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    }
    ASSERT_TRUE(client->send_raw(three));
    for (int want : {200, 404, 200}) {
        auto reply = client->read_reply();
        ASSERT_TRUE(reply) << reply.err().message;
        EXPECT_EQ(reply->status, want);
    }
}

TEST_F(server_http_test, keep_alive_serves_several_requests_on_one_connection) {
    auto client = http_test_client::connect(ports_.http);
    ASSERT_TRUE(client) << client.err().message;
    for (const char* path : {"/health/live", "/nope", "/health/ready", "/health"}) {
        auto reply = client->request("GET", path);
        ASSERT_TRUE(reply) << path << ": " << reply.err().message;
        EXPECT_EQ(reply->status, std::string(path) == "/nope" ? 404 : 200) << path;
    }
    // "Connection: close" is honoured: the reply comes, then the server closes.
    auto last = client->request("GET", "/health/live", {}, {"Connection: close"});
    ASSERT_TRUE(last) << last.err().message;
    EXPECT_EQ(last->status, 200);
    EXPECT_TRUE(client->closed_by_server());
}

TEST_F(server_http_test, metrics_are_prometheus_text) {
    ASSERT_TRUE(http_call(ports_.http, "GET", "/health/live"));
    auto reply = http_call(ports_.http, "GET", "/metrics");
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->header("content-type").rfind("text/plain; version=0.0.4", 0), 0u)
        << reply->header("content-type");
    EXPECT_NE(reply->body.find("# TYPE eventstream_http_requests_total counter"), std::string::npos)
        << reply->body;
    // The gauge counts this connection at least; an earlier one may not be torn down yet.
    EXPECT_NE(reply->body.find("\neventstream_http_connections "), std::string::npos)
        << reply->body;
}

}  // namespace
}  // namespace es::test
