// Helpers for the REST and WebSocket integration tests: a node started per test, JSON calls,
// and the check that the node is still up after something hostile.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"

namespace es::test {

class rest_fixture : public server_process_fixture {
  protected:
    void SetUp() override {
        server_process_fixture::SetUp();
        node_ = start_ready({}, &ports_);
        ASSERT_NE(node_, nullptr);
    }

    // One request on a fresh connection; a transport failure fails the test (status 0).
    http_reply call(std::string_view method, std::string_view target, std::string_view body = {}) {
        auto reply = http_call(ports_.http, method, target, body);
        EXPECT_TRUE(reply) << method << " " << target << ": " << reply.err().message;
        return reply ? *reply : http_reply{};
    }

    static nlohmann::json json_of(const http_reply& reply) {
        auto doc = nlohmann::json::parse(reply.body, nullptr, false);
        EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << reply.body;
        return doc;
    }

    // The error code of a JSON error reply, checking its shape.
    static std::string error_code(const http_reply& reply) {
        EXPECT_EQ(reply.header("content-type"), "application/json");
        const auto doc = json_of(reply);
        if (!doc.is_object() || !doc.contains("error") || !doc["error"].is_object()) {
            ADD_FAILURE() << "not a JSON error: " << reply.body;
            return {};
        }
        EXPECT_TRUE(doc["error"]["message"].is_string()) << reply.body;
        return doc["error"].value("code", "");
    }

    void create_topic(const std::string& name, int partitions = 1) {
        const auto r = call("POST", "/v1/topics",
                            nlohmann::json{{"name", name}, {"partitions", partitions}}.dump());
        ASSERT_EQ(r.status, 201) << r.body;
    }

    // The node answers health checks and still lists its topics.
    void expect_up() {
        ASSERT_TRUE(node_->running()) << node_->log();
        const auto r = call("GET", "/health/ready");
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(call("GET", "/v1/topics").status, 200);
    }

    server_process* node_ = nullptr;
    server::ports_record ports_;
};

}  // namespace es::test
