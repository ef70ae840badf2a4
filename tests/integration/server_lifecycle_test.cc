// The eventstream binary's life: start-up with ports 0, clean stops on SIGTERM and SIGINT, and
// the start-up failures that must be refused clearly (data directory, ports, peers).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"

namespace es::test {
namespace {

class server_lifecycle_test : public server_process_fixture {};

TEST_F(server_lifecycle_test, starts_with_all_ports_zero_and_writes_ports_json) {
    server::ports_record ports;
    server_process* node = start_ready({}, &ports);
    ASSERT_NE(node, nullptr);

    EXPECT_EQ(ports.pid, node->pid());
    EXPECT_EQ(ports.node_id, 1u);
    EXPECT_EQ(ports.bind, "127.0.0.1");
    const std::set<uint16_t> distinct{ports.http, ports.grpc, ports.native, ports.cluster};
    EXPECT_EQ(distinct.size(), 4u);
    EXPECT_EQ(distinct.count(0), 0u);

    auto reply = http_call(ports.http, "GET", "/health/live");
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->header("content-type"), "application/json");
    EXPECT_EQ(nlohmann::json::parse(reply->body), nlohmann::json({{"status", "live"}}));

    // The human summary on stdout names the HTTP address.
    EXPECT_NE(node->output().find("http://127.0.0.1:" + std::to_string(ports.http)),
              std::string::npos)
        << node->output();
    // One log line per listener with its address.
    const std::string log = node->log();
    EXPECT_NE(log.find("http listening on 127.0.0.1:" + std::to_string(ports.http)),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("native listening on 127.0.0.1:" + std::to_string(ports.native)),
              std::string::npos)
        << log;
}

TEST_F(server_lifecycle_test, node_id_is_written_to_ports_json) {
    server_launch launch;
    launch.flags["node_id"] = "42";
    server::ports_record ports;
    ASSERT_NE(start_ready(launch, &ports), nullptr);
    EXPECT_EQ(ports.node_id, 42u);

    auto reply = http_call(ports.http, "GET", "/health");
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(nlohmann::json::parse(reply->body),
              nlohmann::json({{"status", "passing"}, {"node_id", 42}}));
}

TEST_F(server_lifecycle_test, sigterm_stops_cleanly_and_removes_ports_json) {
    server_process* node = start_ready();
    ASSERT_NE(node, nullptr);
    const std::string ports_json = node->data_dir() + "/ports.json";
    ASSERT_TRUE(std::filesystem::exists(ports_json));

    auto exit = node->stop(SIGTERM, 10s);
    ASSERT_TRUE(exit) << "did not stop within 10 s; log:\n" << node->log();
    EXPECT_TRUE(exit->exited_with(0)) << *exit << "\n" << node->log();
    EXPECT_NE(node->log().find("stopped cleanly"), std::string::npos) << node->log();
    EXPECT_FALSE(std::filesystem::exists(ports_json));
    // The lock file stays; only the lock is released.
    EXPECT_TRUE(std::filesystem::exists(node->data_dir() + "/LOCK"));
}

TEST_F(server_lifecycle_test, sigint_stops_cleanly) {
    server_process* node = start_ready();
    ASSERT_NE(node, nullptr);
    auto exit = node->stop(SIGINT, 10s);
    ASSERT_TRUE(exit) << "did not stop within 10 s; log:\n" << node->log();
    EXPECT_TRUE(exit->exited_with(0)) << *exit << "\n" << node->log();
    EXPECT_NE(node->log().find("stopped cleanly"), std::string::npos) << node->log();
}

TEST_F(server_lifecycle_test, sigterm_closes_open_connections) {
    server::ports_record ports;
    server_process* node = start_ready({}, &ports);
    ASSERT_NE(node, nullptr);
    // One idle keep-alive connection, one in the middle of a request.
    auto idle = http_test_client::connect(ports.http);
    ASSERT_TRUE(idle) << idle.err().message;
    auto reply = idle->request("GET", "/health/live");
    ASSERT_TRUE(reply) << reply.err().message;
    auto partial = http_test_client::connect(ports.http);
    ASSERT_TRUE(partial) << partial.err().message;
    ASSERT_TRUE(partial->send_raw("GET /health/live HTTP/1.1\r\nHost: x\r\n"));

    // The node must not wait for these clients (their read timeout is 30 s).
    auto exit = node->stop(SIGTERM, 10s);
    ASSERT_TRUE(exit) << "did not stop within 10 s; log:\n" << node->log();
    EXPECT_TRUE(exit->exited_with(0)) << *exit << "\n" << node->log();
    EXPECT_TRUE(idle->closed_by_server());
    EXPECT_TRUE(partial->closed_by_server());
}

TEST_F(server_lifecycle_test, several_io_threads_share_the_connections_and_stop_cleanly) {
    // Connections are spread over the io threads' contexts in turn; a long poll lives on the
    // first context while the connection polling it may live on another. Everything must
    // work across contexts and the node must stop cleanly with all of it open. (Test
    // machines have 2 CPUs, where the node picks one io thread unless told otherwise.)
    server_launch launch;
    launch.flags["io_threads"] = "3";
    server::ports_record ports;
    server_process* node = start_ready(launch, &ports);
    ASSERT_NE(node, nullptr);
    auto admin = http_test_client::connect(ports.http);
    ASSERT_TRUE(admin) << admin.err().message;
    auto created = admin->request("POST", "/v1/topics", R"({"name":"spread","partitions":1})");
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "");

    std::vector<http_test_client> clients;
    for (int c = 0; c < 6; ++c) {
        auto client = http_test_client::connect(ports.http);
        ASSERT_TRUE(client) << client.err().message;
        clients.push_back(std::move(*client));
    }
    int64_t expected_offset = 0;
    for (int round = 0; round < 5; ++round) {
        for (size_t c = 0; c < clients.size(); ++c) {
            const std::string body = R"({"topic":"spread","payload":")" + std::to_string(c) + "-" +
                                     std::to_string(round) + R"("})";
            auto r = clients[c].request("POST", "/v1/events?acks=leader", body);
            ASSERT_TRUE(r) << r.err().message;
            ASSERT_EQ(r->status, 201) << r->body;
            EXPECT_EQ(nlohmann::json::parse(r->body)["offset"], expected_offset++);
        }
    }
    // A subscription opened on one connection and polled from every other one, in turn.
    auto sub = clients[0].request("POST", "/v1/topics/subscribe",
                                  R"({"topic":"spread","start":"earliest"})");
    ASSERT_TRUE(sub && sub->status == 201) << (sub ? sub->body : "");
    const std::string id = nlohmann::json::parse(sub->body)["subscription_id"];
    std::vector<std::string> payloads;
    for (size_t c = 1; payloads.size() < 30 && c < 30; ++c) {
        auto poll = clients[c % clients.size()].request(
            "GET", "/v1/subscriptions/" + id + "/events?max=7&wait_ms=1000");
        ASSERT_TRUE(poll && poll->status == 200) << (poll ? poll->body : "");
        const auto doc = nlohmann::json::parse(poll->body);
        for (const auto& e : doc["events"]) {
            payloads.push_back(e["payload"].get<std::string>());
        }
    }
    ASSERT_EQ(payloads.size(), 30u);
    for (int round = 0, i = 0; round < 5; ++round) {
        for (size_t c = 0; c < clients.size(); ++c, ++i) {
            EXPECT_EQ(payloads[static_cast<size_t>(i)],
                      std::to_string(c) + "-" + std::to_string(round));
        }
    }
    // The node runs the three threads it was told to.
    std::set<std::string> threads;
    for (const auto& t :
         std::filesystem::directory_iterator("/proc/" + std::to_string(node->pid()) + "/task")) {
        std::ifstream comm(t.path() / "comm");
        std::string name;
        std::getline(comm, name);
        threads.insert(name);
    }
    std::string names;
    for (const auto& t : threads) names += t + " ";
    EXPECT_TRUE(threads.count("es-io-0") && threads.count("es-io-1") && threads.count("es-io-2") &&
                !threads.count("es-io-3"))
        << names;
    // A long poll left waiting on one connection while the node stops: the stop ends it and
    // does not wait out its 20 s.
    ASSERT_TRUE(clients[1].send_raw("GET /v1/subscriptions/" + id +
                                    "/events?max=1&wait_ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::this_thread::sleep_for(100ms);
    auto exit = node->stop(SIGTERM, 10s);
    ASSERT_TRUE(exit) << "did not stop within 10 s; log:\n" << node->log();
    EXPECT_TRUE(exit->exited_with(0)) << *exit << "\n" << node->log();
}

TEST_F(server_lifecycle_test, data_dir_can_be_reused_after_a_clean_stop) {
    server_process* first = start_ready();
    ASSERT_NE(first, nullptr);
    const std::string dir = first->data_dir();
    auto exit = first->stop();
    ASSERT_TRUE(exit && exit->exited_with(0)) << first->log();

    server_launch again;
    again.flags["data_dir"] = dir;
    EXPECT_NE(start_ready(again), nullptr);
}

TEST_F(server_lifecycle_test, second_node_on_the_same_data_dir_fails) {
    server_process* first = start_ready();
    ASSERT_NE(first, nullptr);

    server_launch second_launch;
    second_launch.flags["data_dir"] = first->data_dir();
    server_process* second = launch(second_launch);
    ASSERT_NE(second, nullptr);
    auto exit = second->wait_exit(10s);
    ASSERT_TRUE(exit) << "second node did not exit; log:\n" << second->log();
    EXPECT_TRUE(exit->exited_with(1)) << *exit;
    const std::string log = second->log();
    EXPECT_NE(log.find("data directory " + first->data_dir() + " is in use"), std::string::npos)
        << log;
    EXPECT_NE(log.find("pid " + std::to_string(first->pid())), std::string::npos) << log;

    // The failed node must not disturb the running one: its ports.json is intact.
    auto ports = server::read_ports_file(first->data_dir());
    ASSERT_TRUE(ports) << ports.err().message;
    EXPECT_EQ(ports->pid, first->pid());
    EXPECT_TRUE(first->running());
}

TEST_F(server_lifecycle_test, data_dir_that_is_a_file_fails) {
    server_launch launch_options;
    launch_options.flags["data_dir"] = write_file("not-a-dir", "x");
    server_process* node = launch(launch_options);
    ASSERT_NE(node, nullptr);
    auto exit = node->wait_exit(10s);
    ASSERT_TRUE(exit) << node->log();
    EXPECT_TRUE(exit->exited_with(1)) << *exit;
    EXPECT_NE(node->log().find("data directory " + launch_options.flags["data_dir"]),
              std::string::npos)
        << node->log();
}

TEST_F(server_lifecycle_test, port_in_use_fails_naming_the_field) {
    held_port taken;
    server_launch launch_options;
    launch_options.flags["native_port"] = std::to_string(taken.port());
    server_process* node = launch(launch_options);
    ASSERT_NE(node, nullptr);
    auto exit = node->wait_exit(10s);
    ASSERT_TRUE(exit) << node->log();
    EXPECT_TRUE(exit->exited_with(1)) << *exit;
    const std::string log = node->log();
    EXPECT_NE(log.find("native_port: cannot listen on 127.0.0.1:" + std::to_string(taken.port())),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("Address already in use"), std::string::npos) << log;
    // A node that failed to start leaves no ports.json behind.
    EXPECT_FALSE(std::filesystem::exists(launch_options.flags["data_dir"] + "/ports.json"));
}

TEST_F(server_lifecycle_test, a_cluster_node_needs_a_known_cluster_address) {
    // The fixture picks port 0 for every listener; peers that do not list this node cannot
    // reach it at a port chosen at random, so the start is refused naming the field.
    server_launch launch_options;
    launch_options.flags["peers"] = "2@127.0.0.1:7072";
    server_process* node = launch(launch_options);
    ASSERT_NE(node, nullptr);
    auto exit = node->wait_exit(10s);
    ASSERT_TRUE(exit) << node->log();
    EXPECT_FALSE(exit->exited_with(0)) << *exit;
    EXPECT_NE(node->log().find("cluster_port: in a cluster it must be fixed"), std::string::npos)
        << node->log();
}

TEST_F(server_lifecycle_test, ports_of_unbuilt_protocols_accept_and_close) {
    server::ports_record ports;
    ASSERT_NE(start_ready({}, &ports), nullptr);
    // The native and gRPC ports serve their protocols (native_test, grpc_test); only the
    // cluster port is reserved.
    for (uint16_t port : {ports.cluster}) {
        auto client = http_test_client::connect(port);
        ASSERT_TRUE(client) << client.err().message;
        EXPECT_TRUE(client->closed_by_server()) << "port " << port;
    }
}

}  // namespace
}  // namespace es::test
