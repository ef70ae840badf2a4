// Durable topics through the real binary: what a restart brings back (topics, events, group
// offsets), and what a store directory that is foreign or corrupt does at start-up (a clear
// error, exit code 1, nothing changed on disk).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"

namespace es::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

class durable_test : public server_process_fixture {
  protected:
    static json call_ok(uint16_t port, std::string_view method, std::string_view target,
                        const json& body, int expect_status) {
        auto r = http_call(port, method, target, body.is_null() ? "" : body.dump());
        EXPECT_TRUE(r) << r.err().message;
        if (!r) return {};
        EXPECT_EQ(r->status, expect_status) << method << " " << target << ": " << r->body;
        return r->body.empty() ? json() : json::parse(r->body);
    }

    // Publishes payloads {"n": first..first+count-1} with acks=all.
    static void publish(uint16_t port, const std::string& topic, int first, int count) {
        json events = json::array();
        for (int i = first; i < first + count; ++i) events.push_back({{"payload", {{"n", i}}}});
        call_ok(port, "POST", "/v1/events?acks=all", {{"topic", topic}, {"events", events}}, 201);
    }

    // Opens a subscription, polls up to `max` events once (waiting for the first), returns
    // their offsets, then deletes the subscription (which commits what it delivered).
    static std::vector<uint64_t> read_once(uint16_t port, const json& spec, int max) {
        const json sub = call_ok(port, "POST", "/v1/topics/subscribe", spec, 201);
        const std::string id = sub.value("subscription_id", "");
        EXPECT_FALSE(id.empty()) << sub.dump();
        const json got = call_ok(
            port, "GET",
            "/v1/subscriptions/" + id + "/events?max=" + std::to_string(max) + "&wait_ms=5000",
            nullptr, 200);
        std::vector<uint64_t> offsets;
        for (const auto& e : got["events"]) offsets.push_back(e["offset"].get<uint64_t>());
        auto d = http_call(port, "DELETE", "/v1/subscriptions/" + id);
        EXPECT_TRUE(d && (d->status == 200 || d->status == 204)) << (d ? d->body : "");
        return offsets;
    }

    server_launch launch_in(const std::string& data_dir) {
        server_launch l;
        l.flags["data_dir"] = data_dir;
        return l;
    }
};

TEST_F(durable_test, topics_events_and_group_offsets_come_back_after_a_restart) {
    const std::string data = fresh_path("node");
    {
        server::ports_record ports;
        server_process* node = start_ready(launch_in(data), &ports);
        ASSERT_NE(node, nullptr);
        call_ok(ports.http, "POST", "/v1/topics",
                {{"name", "ledger"}, {"partitions", 1}, {"storage", "durable"}}, 201);
        publish(ports.http, "ledger", 0, 50);
        const auto first = read_once(ports.http,
                                     {{"topic", "ledger"},
                                      {"group", "audit"},
                                      {"start", "committed"},
                                      {"fallback", "earliest"}},
                                     20);
        ASSERT_EQ(first.size(), 20u);
        EXPECT_EQ(first.front(), 0u);
        EXPECT_EQ(first.back(), 19u);
        ASSERT_TRUE(node->stop(SIGTERM).has_value());
    }
    server::ports_record ports;
    server_process* node = start_ready(launch_in(data), &ports);
    ASSERT_NE(node, nullptr);
    EXPECT_NE(node->log().find("restored 1 durable topic"), std::string::npos) << node->log();
    const json t = call_ok(ports.http, "GET", "/v1/topics/ledger", nullptr, 200);
    EXPECT_EQ(t["storage"], "durable");
    EXPECT_EQ(t["partition_detail"][0]["end_offset"], 50);

    // The group resumes where it committed; a new group from earliest sees all 50.
    const auto resumed = read_once(
        ports.http,
        {{"topic", "ledger"}, {"group", "audit"}, {"start", "committed"}, {"fallback", "earliest"}},
        1000);
    ASSERT_FALSE(resumed.empty());
    EXPECT_EQ(resumed.front(), 20u);
    const auto all = read_once(ports.http, {{"topic", "ledger"}, {"start", "earliest"}}, 1000);
    ASSERT_EQ(all.size(), 50u);
    for (uint64_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i);

    // Offsets continue, and an event is found by its id.
    publish(ports.http, "ledger", 50, 1);
    const json e = call_ok(ports.http, "GET", "/v1/events/ledger.0.50", nullptr, 200);
    EXPECT_EQ(e["payload"]["n"], 50);
}

TEST_F(durable_test, a_foreign_store_directory_stops_the_node_and_is_left_alone) {
    const std::string data = fresh_path("node");
    fs::create_directories(data + "/store");
    { std::ofstream(data + "/store/notes.txt") << "someone else's file\n"; }
    server_process* node = launch(launch_in(data));
    ASSERT_NE(node, nullptr);
    auto exit = node->wait_exit(20s);
    ASSERT_TRUE(exit.has_value());
    EXPECT_TRUE(exit->exited_with(1)) << *exit << "\n" << node->log();
    EXPECT_NE(node->log().find(data + "/store"), std::string::npos) << node->log();
    EXPECT_NE(node->log().find("not an eventstream store"), std::string::npos) << node->log();
    EXPECT_TRUE(fs::exists(data + "/store/notes.txt"));
}

TEST_F(durable_test, a_corrupt_store_stops_the_node_with_a_clear_error_and_no_reset) {
    const std::string data = fresh_path("node");
    {
        server::ports_record ports;
        server_process* node = start_ready(launch_in(data), &ports);
        ASSERT_NE(node, nullptr);
        call_ok(ports.http, "POST", "/v1/topics", {{"name", "kept"}, {"storage", "durable"}}, 201);
        publish(ports.http, "kept", 0, 10);
        ASSERT_TRUE(node->stop(SIGTERM).has_value());
    }
    // Overwrite the middle of every MANIFEST: RocksDB can no longer read its own catalogue.
    std::vector<std::string> manifests;
    for (const auto& f : fs::directory_iterator(data + "/store")) {
        if (f.path().filename().string().rfind("MANIFEST-", 0) == 0) {
            manifests.push_back(f.path().string());
        }
    }
    ASSERT_FALSE(manifests.empty());
    for (const auto& m : manifests) {
        const auto size = fs::file_size(m);
        std::fstream f(m, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(size / 3));
        const std::string junk(std::max<size_t>(size / 3, 16), '\x5a');
        f.write(junk.data(), static_cast<std::streamsize>(std::min<size_t>(junk.size(), size / 3)));
    }
    const auto before = fs::file_size(manifests.front());
    server_process* node = launch(launch_in(data));
    ASSERT_NE(node, nullptr);
    auto exit = node->wait_exit(20s);
    ASSERT_TRUE(exit.has_value());
    EXPECT_TRUE(exit->exited_with(1)) << *exit << "\n" << node->log();
    EXPECT_NE(node->log().find("cannot open the store in " + data + "/store"), std::string::npos)
        << node->log();
    // Nothing was repaired or reset behind the operator's back.
    EXPECT_TRUE(fs::exists(manifests.front()));
    EXPECT_EQ(fs::file_size(manifests.front()), before);
}

}  // namespace
}  // namespace es::test
