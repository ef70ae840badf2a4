// Configuration of the eventstream binary end to end: invalid values from each source exit 2
// naming the field, the precedence file < environment < flag, and JSON log lines.
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

#include <unistd.h>

#include "protocol/codec.h"
#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"
#include "tests/integration/test_native_client.h"

namespace es::test {
namespace {

class server_config_test : public server_process_fixture {
  protected:
    // Launches with `options` and expects exit code 2; returns the captured stderr.
    std::string expect_usage_error(const server_launch& options) {
        server_process* node = launch(options);
        if (node == nullptr) return {};
        auto exit = node->wait_exit(10s);
        EXPECT_TRUE(exit) << "still running; log:\n" << node->log();
        if (exit) {
            EXPECT_TRUE(exit->exited_with(2)) << *exit << "\n" << node->log();
        }
        return node->log();
    }
};

TEST_F(server_config_test, port_out_of_range_flag_exits_2_naming_the_field) {
    server_launch options;
    options.flags["http_port"] = "70000";
    const std::string log = expect_usage_error(options);
    EXPECT_NE(log.find("eventstream: http_port: must be 0..65535, got 70000 (from --http-port)"),
              std::string::npos)
        << log;
}

TEST_F(server_config_test, bad_env_value_exits_2_naming_field_and_variable) {
    server_launch options;
    options.env["EVENTSTREAM_LOG_FORMAT"] = "xml";
    const std::string log = expect_usage_error(options);
    EXPECT_NE(log.find("log_format"), std::string::npos) << log;
    EXPECT_NE(log.find("EVENTSTREAM_LOG_FORMAT"), std::string::npos) << log;
}

TEST_F(server_config_test, unknown_yaml_key_exits_2_naming_the_key) {
    server_launch options;
    options.extra_args = {"--config", write_file("config.yaml", "http_prot: 8080\n")};
    const std::string log = expect_usage_error(options);
    EXPECT_NE(log.find("http_prot"), std::string::npos) << log;
}

// The host METADATA tells clients to reach the node at (here, of a node listening on every
// address).
std::string advertised_host(uint16_t native_port) {
    auto c = native_test_client::connect(native_port);
    EXPECT_TRUE(c) << c.err().message;
    if (!c) return {};
    auto ok = (*c)->handshake();
    EXPECT_TRUE(ok) << ok.err().message;
    std::string out;
    protocol::encode(out, 2, protocol::metadata_request{});
    auto f = call_skipping_pushes(**c, out);
    EXPECT_TRUE(f) << f.err().message;
    if (!f) return {};
    auto m = protocol::decode_metadata_reply(f->body);
    EXPECT_TRUE(m && m->nodes.size() == 1);
    return m && m->nodes.size() == 1 ? m->nodes[0].host : std::string();
}

TEST_F(server_config_test, metadata_advertises_the_host_clients_reach_the_node_at) {
    server_launch options;
    options.flags["bind"] = "0.0.0.0";
    options.flags["advertise_host"] = "broker-1.example";
    server::ports_record ports;
    server_process* node = start_ready(options, &ports);
    ASSERT_NE(node, nullptr);
    EXPECT_EQ(advertised_host(ports.native), "broker-1.example");
    node->stop();
    // Without the option a wildcard bind is never advertised: the host name stands for it.
    options.flags.erase("advertise_host");
    node = start_ready(options, &ports);
    ASSERT_NE(node, nullptr);
    char name[256] = {};
    ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
    EXPECT_EQ(advertised_host(ports.native), std::string(name));
    node->stop();
    options.flags["advertise_host"] = "broker-1.example:7070";
    EXPECT_NE(expect_usage_error(options).find("advertise_host"), std::string::npos);
}

TEST_F(server_config_test, unknown_flag_exits_2) {
    server_launch options;
    options.extra_args = {"--no-such-flag", "1"};
    const std::string log = expect_usage_error(options);
    EXPECT_NE(log.find("--no-such-flag"), std::string::npos) << log;
}

TEST_F(server_config_test, flag_beats_env_beats_file) {
    const auto free = free_tcp_ports(3);
    const uint16_t file_port = free[0], env_port = free[1], flag_port = free[2];
    const std::string config =
        write_file("config.yaml", "http_port: " + std::to_string(file_port) + "\n");

    // File only.
    {
        server_launch options;
        options.flags.erase("http_port");
        options.extra_args = {"--config", config};
        server::ports_record ports;
        server_process* node = start_ready(options, &ports);
        ASSERT_NE(node, nullptr);
        EXPECT_EQ(ports.http, file_port);
        ASSERT_TRUE(node->stop()) << node->log();
    }
    // File and environment: the environment wins.
    {
        server_launch options;
        options.flags.erase("http_port");
        options.extra_args = {"--config", config};
        options.env["EVENTSTREAM_HTTP_PORT"] = std::to_string(env_port);
        server::ports_record ports;
        server_process* node = start_ready(options, &ports);
        ASSERT_NE(node, nullptr);
        EXPECT_EQ(ports.http, env_port);
        ASSERT_TRUE(node->stop()) << node->log();
    }
    // All three: the flag wins.
    {
        server_launch options;
        options.flags["http_port"] = std::to_string(flag_port);
        options.extra_args = {"--config", config};
        options.env["EVENTSTREAM_HTTP_PORT"] = std::to_string(env_port);
        server::ports_record ports;
        server_process* node = start_ready(options, &ports);
        ASSERT_NE(node, nullptr);
        EXPECT_EQ(ports.http, flag_port);
        auto reply = http_call(ports.http, "GET", "/health/live");
        ASSERT_TRUE(reply) << reply.err().message;
        EXPECT_EQ(reply->status, 200);
    }
}

TEST_F(server_config_test, config_file_from_environment_variable) {
    server_launch options;
    options.env["EVENTSTREAM_CONFIG"] = write_file("config.yaml", "node_id: 7\n");
    server::ports_record ports;
    ASSERT_NE(start_ready(options, &ports), nullptr);
    EXPECT_EQ(ports.node_id, 7u);
}

TEST_F(server_config_test, json_log_lines_all_parse) {
    server_launch options;
    options.flags["log_format"] = "json";
    server::ports_record ports;
    server_process* node = start_ready(options, &ports);
    ASSERT_NE(node, nullptr);
    ASSERT_TRUE(http_call(ports.http, "GET", "/health/live"));
    auto exit = node->stop();
    ASSERT_TRUE(exit && exit->exited_with(0)) << node->log();

    std::istringstream lines(node->log());
    std::string line;
    int parsed = 0;
    bool saw_stopped = false;
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        const auto doc = nlohmann::json::parse(line, nullptr, false);
        ASSERT_TRUE(doc.is_object()) << "not a JSON object: " << line;
        EXPECT_TRUE(doc.contains("ts") && doc["ts"].is_string()) << line;
        EXPECT_TRUE(doc.contains("level") && doc["level"].is_string()) << line;
        ASSERT_TRUE(doc.contains("msg") && doc["msg"].is_string()) << line;
        if (doc["msg"].get<std::string>().find("stopped cleanly") != std::string::npos) {
            saw_stopped = true;
        }
        ++parsed;
    }
    EXPECT_GE(parsed, 5);
    EXPECT_TRUE(saw_stopped) << node->log();
}

}  // namespace
}  // namespace es::test
