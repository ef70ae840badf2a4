// Crash test: a real node, publishers with acks=all over HTTP, and kill -9 at random moments,
// many times. After every restart each acknowledged event must be present exactly once, at
// the offset it was acknowledged with, and in order. The seed (ES_SEED to repeat one) is
// printed, so a failing run can be reproduced.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"

namespace es::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* topic_name = "crash";
constexpr uint32_t partitions = 3;

uint64_t seed_from_env() {
    if (const char* s = std::getenv("ES_SEED")) return std::strtoull(s, nullptr, 10);
    return std::random_device{}();
}

// Every {partition, offset} object in an answer, in document order (single and batch
// answers alike).
void collect_placements(const json& j, std::vector<std::pair<uint32_t, uint64_t>>& out) {
    if (j.is_object()) {
        if (j.contains("partition") && j.contains("offset") && j["offset"].is_number()) {
            out.emplace_back(j["partition"].get<uint32_t>(), j["offset"].get<uint64_t>());
            return;
        }
        for (const auto& [k, v] : j.items()) collect_placements(v, out);
    } else if (j.is_array()) {
        for (const auto& v : j) collect_placements(v, out);
    }
}

struct acked_event {
    uint32_t partition;
    uint64_t offset;
    uint64_t seq;
};

class crash_test : public server_process_fixture {
  protected:
    // Publishes batches of numbered events with acks=all until the connection fails (the node
    // was killed). Records what was acknowledged.
    void publish_until_killed(uint16_t port, uint64_t& next_seq, std::vector<acked_event>& acked,
                              std::mt19937_64& rng) {
        auto client = http_test_client::connect(port);
        if (!client) return;
        for (;;) {
            const uint32_t n = 1 + static_cast<uint32_t>(rng() % 20);
            json events = json::array();
            std::vector<uint64_t> seqs;
            for (uint32_t i = 0; i < n; ++i) {
                const uint64_t seq = next_seq++;
                seqs.push_back(seq);
                events.push_back(
                    {{"key", "k" + std::to_string(seq % 7)}, {"payload", {{"seq", seq}}}});
            }
            const json body{{"topic", topic_name}, {"events", events}};
            auto reply = client->request("POST", "/v1/events?acks=all", body.dump());
            if (!reply) return;  // killed mid-request: this batch is not acknowledged
            if (reply->status != 201) {
                ADD_FAILURE() << "publish answered " << reply->status << ": " << reply->body;
                return;
            }
            std::vector<std::pair<uint32_t, uint64_t>> placed;
            collect_placements(json::parse(reply->body), placed);
            if (placed.size() != seqs.size()) {
                ADD_FAILURE() << "publish of " << seqs.size() << " events answered with "
                              << placed.size() << " placements: " << reply->body;
                return;
            }
            for (size_t i = 0; i < seqs.size(); ++i) {
                acked.push_back({placed[i].first, placed[i].second, seqs[i]});
            }
        }
    }

    // Reads partition p from offset 0 to its end: the seq of each event, by offset.
    std::vector<uint64_t> read_partition(uint16_t port, uint32_t p) {
        auto info = http_call(port, "GET", std::string("/v1/topics/") + topic_name);
        EXPECT_TRUE(info && info->status == 200) << (info ? info->body : info.err().message);
        if (!info || info->status != 200) return {};
        const json t = json::parse(info->body);
        uint64_t end = 0;
        for (const auto& part : t["partition_detail"]) {
            if (part["partition"].get<uint32_t>() == p) end = part["end_offset"].get<uint64_t>();
        }
        std::vector<uint64_t> seqs;
        auto client = http_test_client::connect(port);
        EXPECT_TRUE(client);
        if (!client) return {};
        for (uint64_t o = 0; o < end; ++o) {
            const std::string id =
                std::string(topic_name) + "." + std::to_string(p) + "." + std::to_string(o);
            auto r = client->request("GET", "/v1/events/" + id);
            EXPECT_TRUE(r && r->status == 200) << id << ": " << (r ? r->body : r.err().message);
            if (!r || r->status != 200) return seqs;
            seqs.push_back(json::parse(r->body)["payload"]["seq"].get<uint64_t>());
        }
        return seqs;
    }

    void check(uint16_t port, const std::vector<acked_event>& acked, int round) {
        std::map<uint64_t, std::pair<uint32_t, uint64_t>> found;  // seq -> partition, offset
        for (uint32_t p = 0; p < partitions; ++p) {
            const auto seqs = read_partition(port, p);
            for (uint64_t o = 0; o < seqs.size(); ++o) {
                // In order: one publisher, each batch acked before the next, so seqs grow.
                if (o > 0) {
                    ASSERT_LT(seqs[o - 1], seqs[o])
                        << "round " << round << ": partition " << p << " out of order at " << o;
                }
                ASSERT_TRUE(found.emplace(seqs[o], std::make_pair(p, o)).second)
                    << "round " << round << ": event " << seqs[o] << " stored twice";
            }
        }
        for (const acked_event& a : acked) {
            auto it = found.find(a.seq);
            ASSERT_NE(it, found.end())
                << "round " << round << ": acknowledged event " << a.seq << " (partition "
                << a.partition << " offset " << a.offset << ") is missing";
            ASSERT_EQ(it->second, std::make_pair(a.partition, a.offset))
                << "round " << round << ": event " << a.seq << " moved";
        }
    }
};

TEST_F(crash_test, acknowledged_events_survive_kill_9_at_random_moments) {
    const uint64_t seed = seed_from_env();
    std::cerr << "crash_test seed " << seed << " (set ES_SEED to repeat)\n";
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    int rounds = 12;
    if (const char* r = std::getenv("ES_CRASH_ROUNDS")) rounds = std::atoi(r);

    server_launch launch;
    launch.flags["data_dir"] = fresh_path("node");
    launch.flags["fsync"] = "always";

    std::vector<acked_event> acked;
    uint64_t next_seq = 0;
    for (int round = 0; round < rounds; ++round) {
        server::ports_record ports;
        server_process* node = start_ready(launch, &ports);
        ASSERT_NE(node, nullptr);
        if (round == 0) {
            const json create{
                {"name", topic_name}, {"partitions", partitions}, {"storage", "durable"}};
            auto r = http_call(ports.http, "POST", "/v1/topics", create.dump());
            ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.err().message);
        } else {
            // Everything acknowledged before the last kill is back, once, in order.
            check(ports.http, acked, round);
            if (HasFailure()) return;
        }
        const auto kill_after = std::chrono::milliseconds(50 + rng() % 400);
        std::thread killer([&] {
            std::this_thread::sleep_for(kill_after);
            node->send_signal(SIGKILL);
        });
        publish_until_killed(ports.http, next_seq, acked, rng);
        killer.join();
        ASSERT_TRUE(node->wait_exit(10s).has_value());
    }
    server::ports_record ports;
    ASSERT_NE(start_ready(launch, &ports), nullptr);
    check(ports.http, acked, rounds);
    std::cerr << "crash_test: " << acked.size() << " acknowledged events over " << rounds
              << " kills, all present once and in order\n";
    EXPECT_GT(acked.size(), 0u);
}

}  // namespace
}  // namespace es::test
