// A 3-node cluster of real processes on loopback: an RF=3 durable topic, publishes with
// acks=all to the partition's leader, kill -9 of that leader, a new leader that takes
// publishes, and after the killed node's restart every acknowledged event present exactly once
// and in order on every replica.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"

namespace es::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* topic_name = "replicated";

class cluster_test : public server_process_fixture {
  protected:
    struct node {
        uint32_t id = 0;
        uint16_t cluster_port = 0;
        std::string data_dir;
        server_process* process = nullptr;
        server::ports_record ports;
    };

    void SetUp() override {
        server_process_fixture::SetUp();
        const auto cports = free_tcp_ports(3);
        std::string peers;
        for (uint32_t i = 0; i < 3; ++i) {
            nodes_[i].id = i + 1;
            nodes_[i].cluster_port = cports[i];
            nodes_[i].data_dir = fresh_path("node" + std::to_string(i + 1));
            peers +=
                (i ? "," : "") + std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(cports[i]);
        }
        peers_ = peers;
    }

    bool start(node& n) {
        server_launch l;
        l.flags["node_id"] = std::to_string(n.id);
        l.flags["cluster_port"] = std::to_string(n.cluster_port);
        l.flags["peers"] = peers_;
        l.flags["data_dir"] = n.data_dir;
        l.flags["raft_election_timeout_ms"] = "500";
        l.flags["raft_heartbeat_ms"] = "50";
        n.process = start_ready(l, &n.ports);
        return n.process != nullptr;
    }

    // The first answer of `method target` that is not a "try elsewhere/later" (421, 503),
    // asking every running node in turn, within `timeout`.
    std::optional<http_reply> any_node(const std::string& method, const std::string& target,
                                       const std::string& body, std::chrono::seconds timeout,
                                       std::string* last = nullptr) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            for (node& n : nodes_) {
                if (n.process == nullptr) continue;
                auto r = http_call(n.ports.http, method, target, body);
                if (!r) continue;
                if (r->status != 421 && r->status != 503) return *r;
                if (last) *last = r->body;
            }
            std::this_thread::sleep_for(100ms);
        }
        return std::nullopt;
    }

    // The node that leads partition 0, as every running node agrees, within `timeout`.
    node* leader(std::chrono::seconds timeout, uint32_t not_this = 0) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            for (node& n : nodes_) {
                if (n.process == nullptr || n.id == not_this) continue;
                // The leader itself is the one that takes a publish.
                auto r =
                    http_call(n.ports.http, "POST", "/v1/events?acks=all",
                              json{{"topic", topic_name}, {"payload", {{"probe", true}}}}.dump());
                if (r && r->status == 201) return &n;
            }
            std::this_thread::sleep_for(100ms);
        }
        return nullptr;
    }

    // Publishes `count` numbered events, one batch of `batch` at a time, with acks=all; returns
    // the acknowledged sequence numbers.
    std::vector<uint64_t> publish(node& n, uint64_t& next_seq, int count, int batch) {
        std::vector<uint64_t> acked;
        auto client = http_test_client::connect(n.ports.http);
        EXPECT_TRUE(client);
        if (!client) return acked;
        for (int sent = 0; sent < count; sent += batch) {
            json events = json::array();
            std::vector<uint64_t> seqs;
            for (int i = 0; i < batch; ++i) {
                seqs.push_back(next_seq);
                events.push_back({{"payload", {{"seq", next_seq++}}}});
            }
            auto r = client->request("POST", "/v1/events?acks=all",
                                     json{{"topic", topic_name}, {"events", events}}.dump());
            EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.err().message);
            if (!r || r->status != 201) return acked;
            acked.insert(acked.end(), seqs.begin(), seqs.end());
        }
        return acked;
    }

    // Every event of partition 0 on node n, in offset order (-1 for a probe event).
    std::vector<int64_t> read_all(node& n) {
        std::vector<int64_t> out;
        auto info = http_call(n.ports.http, "GET", std::string("/v1/topics/") + topic_name);
        EXPECT_TRUE(info && info->status == 200) << (info ? info->body : info.err().message);
        if (!info || info->status != 200) return out;
        const json t = json::parse(info->body);
        const uint64_t end = t["partition_detail"][0]["end_offset"].get<uint64_t>();
        auto client = http_test_client::connect(n.ports.http);
        EXPECT_TRUE(client);
        if (!client) return out;
        for (uint64_t o = 0; o < end; ++o) {
            const std::string id = std::string(topic_name) + ".0." + std::to_string(o);
            auto r = client->request("GET", "/v1/events/" + id);
            EXPECT_TRUE(r && r->status == 200)
                << "node " << n.id << " " << id << ": " << (r ? r->body : r.err().message);
            if (!r || r->status != 200) return out;
            const json e = json::parse(r->body);
            out.push_back(e["payload"].contains("seq") ? e["payload"]["seq"].get<int64_t>() : -1);
        }
        return out;
    }

    // Waits until node n holds at least `end` events of partition 0.
    bool caught_up(node& n, uint64_t end, std::chrono::seconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto info = http_call(n.ports.http, "GET", std::string("/v1/topics/") + topic_name);
            if (info && info->status == 200) {
                const json t = json::parse(info->body);
                if (t["partition_detail"][0]["end_offset"].get<uint64_t>() >= end) return true;
            }
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }

    node nodes_[3];
    std::string peers_;
};

TEST_F(cluster_test, leader_kill_loses_no_acknowledged_event) {
    for (node& n : nodes_) ASSERT_TRUE(start(n));

    // Topic admin goes through the controller: the nodes that are not it answer 421.
    std::string refusal;
    auto created = any_node("POST", "/v1/topics",
                            json{{"name", topic_name},
                                 {"partitions", 1},
                                 {"storage", "durable"},
                                 {"replication_factor", 3}}
                                .dump(),
                            30s, &refusal);
    ASSERT_TRUE(created) << "no controller took the topic; last refusal: " << refusal;
    ASSERT_EQ(created->status, 201) << created->body;

    node* first = leader(30s);
    ASSERT_NE(first, nullptr) << "partition 0 got no leader";
    // A follower refuses publishes, naming the leader.
    for (node& n : nodes_) {
        if (&n == first) continue;
        auto r = http_call(n.ports.http, "POST", "/v1/events?acks=all",
                           json{{"topic", topic_name}, {"payload", 1}}.dump());
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 421) << r->body;
        EXPECT_NE(r->body.find("leader is node " + std::to_string(first->id)), std::string::npos)
            << r->body;
    }

    uint64_t seq = 0;
    std::vector<uint64_t> acked = publish(*first, seq, 200, 10);
    ASSERT_EQ(acked.size(), 200u);

    // kill -9 the leader: another replica is elected and takes publishes.
    const uint32_t killed = first->id;
    first->process->stop(SIGKILL, 10s);
    first->process = nullptr;
    node* second = leader(30s, killed);
    ASSERT_NE(second, nullptr) << "no new leader after the leader was killed";
    const auto more = publish(*second, seq, 200, 10);
    ASSERT_EQ(more.size(), 200u);
    acked.insert(acked.end(), more.begin(), more.end());

    // The killed node comes back and catches up from the new leader.
    node& back = nodes_[killed - 1];
    ASSERT_TRUE(start(back));
    auto lead_info = http_call(second->ports.http, "GET", std::string("/v1/topics/") + topic_name);
    ASSERT_TRUE(lead_info && lead_info->status == 200);
    const uint64_t end =
        json::parse(lead_info->body)["partition_detail"][0]["end_offset"].get<uint64_t>();
    for (node& n : nodes_) {
        ASSERT_TRUE(caught_up(n, end, 30s)) << "node " << n.id << " did not catch up to " << end;
    }

    // Every replica holds the same log, and every acknowledged event once, in order.
    std::vector<int64_t> reference;
    for (node& n : nodes_) {
        const auto log = read_all(n);
        ASSERT_EQ(log.size(), end) << "node " << n.id;
        if (reference.empty()) {
            reference = log;
        } else {
            EXPECT_EQ(log, reference) << "node " << n.id << " differs from node 1";
        }
    }
    std::map<int64_t, size_t> where;
    int64_t previous = -1;
    for (size_t o = 0; o < reference.size(); ++o) {
        if (reference[o] < 0) continue;  // a leader probe
        ASSERT_TRUE(where.emplace(reference[o], o).second) << "event " << reference[o] << " twice";
        EXPECT_LT(previous, reference[o]) << "out of order at offset " << o;
        previous = reference[o];
    }
    for (uint64_t s : acked) {
        EXPECT_TRUE(where.count(static_cast<int64_t>(s)))
            << "acknowledged event " << s << " is missing";
    }
}

}  // namespace
}  // namespace es::test
