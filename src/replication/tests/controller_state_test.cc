// Tests of the controller's state: command and snapshot encoding, replica placement, and the
// rules of each command.
#include "replication/controller_state.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "replication/tests/controller_test_util.h"

namespace es::replication {
namespace {

using namespace testing;

using json = nlohmann::json;
using kind = controller_command::kind;

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

std::string text_of(const std::vector<std::byte>& bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::vector<controller_command> one_of_each() {
    controller_command reg = register_node(3);
    reg.node.host = "";
    reg.node.grpc_port = 65535;
    controller_command create = create_topic("orders.eu-1", 12, 3);
    create.config.retention_bytes = 1ull << 40;
    create.config.retention_ms = 86'400'000;
    create.config.max_event_bytes = 4096;
    return {reg, create, delete_topic("orders"),
            leader_report(UINT64_MAX, 4095, 7, uint64_t{1} << 63)};
}

// "t<i>", built without operator+ (GCC 12 warns falsely about it, -Wrestrict).
std::string name_of(uint64_t i) {
    std::string name = "t";
    name += std::to_string(i);
    return name;
}

// A state with nodes 1..n and a few topics.
controller_state populated(uint64_t n) {
    controller_state s;
    for (uint64_t id = 1; id <= n; ++id) EXPECT_TRUE(s.apply(register_node(id)));
    EXPECT_TRUE(s.apply(create_topic("a", 8, std::min<uint32_t>(3, n))));
    EXPECT_TRUE(s.apply(create_topic("b", 1, 1)));
    EXPECT_TRUE(s.apply(create_topic("c", 4, std::min<uint32_t>(2, n))));
    EXPECT_TRUE(s.apply(delete_topic("b")));
    const topic_entry* a = s.find_topic("a");
    EXPECT_NE(a, nullptr);
    EXPECT_TRUE(s.apply(leader_report(a->id, 2, a->partitions[2].replicas[1], 4)));
    return s;
}

// --- encoding ---------------------------------------------------------------------------------

TEST(controller_command_encoding, every_kind_round_trips) {
    for (const controller_command& c : one_of_each()) {
        const auto bytes = encode(c);
        auto back = decode_controller_command(bytes);
        ASSERT_TRUE(back) << text_of(bytes) << ": " << back.err().message;
        EXPECT_EQ(*back, c) << text_of(bytes);
    }
}

TEST(controller_command_encoding, every_truncation_is_refused) {
    for (const controller_command& c : one_of_each()) {
        const auto bytes = encode(c);
        for (size_t n = 0; n < bytes.size(); ++n) {
            auto r = decode_controller_command(std::span(bytes).first(n));
            ASSERT_FALSE(r) << "prefix of " << n << " bytes of " << text_of(bytes);
            EXPECT_EQ(r.err().code, errc::invalid_argument);
            EXPECT_FALSE(r.err().message.empty());
        }
    }
}

TEST(controller_command_encoding, malformed_documents_are_refused) {
    const std::string create = text_of(encode(create_topic("t", 1, 1)));
    const char* cases[] = {
        "",
        "\xff\xfe\x00garbage",
        "null",
        "[]",
        "42",
        "{}",
        R"({"type":"delete_topic","name":"x"})",              // no version
        R"({"v":2,"type":"delete_topic","name":"x"})",        // future version
        R"({"v":0,"type":"delete_topic","name":"x"})",        // old version
        R"({"v":"1","type":"delete_topic","name":"x"})",      // version not a number
        R"({"v":1,"type":"drop_table","name":"x"})",          // unknown type
        R"({"v":1,"type":7,"name":"x"})",                     // type not a string
        R"({"v":1,"type":"delete_topic"})",                   // missing field
        R"({"v":1,"type":"delete_topic","name":5})",          // wrong field type
        R"({"v":1,"type":"delete_topic","name":"x","z":1})",  // extra field
        R"({"v":1,"type":"partition_leader","topic_id":1,"partition":4294967296,"node_id":1,)"
        R"("term":1})",  // partition above u32
        R"({"v":1,"type":"partition_leader","topic_id":-1,"partition":0,"node_id":1,"term":1})",
        R"({"v":1,"type":"partition_leader","topic_id":1.5,"partition":0,"node_id":1,"term":1})",
        R"({"v":1,"type":"register_node","node":{"id":1,"raft_address":"h:1","host":"h",)"
        R"("native_port":70000,"http_port":1,"grpc_port":1}})",  // port above u16
        R"({"v":1,"type":"register_node","node":{"id":0,"raft_address":"h:1","host":"h",)"
        R"("native_port":1,"http_port":1,"grpc_port":1}})",  // node id 0
        R"({"v":1,"type":"register_node","node":{"id":1,"raft_address":"a b","host":"h",)"
        R"("native_port":1,"http_port":1,"grpc_port":1}})",  // space in an address
        R"({"v":1,"type":"register_node","node":[1]})",
        R"({"v":1,"type":"create_topic","config":{"name":"t"}})",
    };
    for (const char* text : cases) {
        auto r = decode_controller_command(bytes_of(text));
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.err().code, errc::invalid_argument) << text;
    }

    // The create_topic document with its storage mode garbled, and with trailing garbage.
    std::string bad_storage = create;
    bad_storage.replace(bad_storage.find("memory"), 6, "memorx");
    EXPECT_FALSE(decode_controller_command(bytes_of(bad_storage)));
    EXPECT_FALSE(decode_controller_command(bytes_of(create + "}")));
    EXPECT_FALSE(decode_controller_command(bytes_of(create + "{}")));
    // Over the size limit, even when it would parse.
    std::string big =
        R"({"v":1,"type":"delete_topic","name":")" + std::string(max_command_bytes, 'x') + "\"}";
    auto r = decode_controller_command(bytes_of(big));
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find("limit"), std::string::npos) << r.err().message;
}

TEST(controller_command_encoding, random_byte_damage_never_crashes) {
    // Damaged encodings either decode to some command (a digit changed into another digit) or
    // give invalid_argument; a command that decodes encodes and decodes to itself again.
    std::mt19937_64 rng(12345);
    for (const controller_command& c : one_of_each()) {
        const auto good = encode(c);
        for (int round = 0; round < 2000; ++round) {
            auto bytes = good;
            const int flips = 1 + static_cast<int>(rng() % 3);
            for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = std::byte(rng() & 0xff);
            auto r = decode_controller_command(bytes);
            if (!r) {
                EXPECT_EQ(r.err().code, errc::invalid_argument);
                continue;
            }
            auto again = decode_controller_command(encode(*r));
            ASSERT_TRUE(again) << text_of(bytes);
            EXPECT_EQ(*again, *r);
        }
    }
}

// --- placement --------------------------------------------------------------------------------

TEST(placement, deterministic_distinct_and_count_respected) {
    const std::vector<uint64_t> nodes = {4, 9, 1, 22, 7};
    for (uint32_t count = 0; count <= nodes.size(); ++count) {
        for (uint32_t p = 0; p < 50; ++p) {
            const auto r = place_replicas(42, p, nodes, count);
            ASSERT_EQ(r.size(), count);
            EXPECT_EQ(std::set<uint64_t>(r.begin(), r.end()).size(), count);
            for (uint64_t id : r) EXPECT_NE(std::find(nodes.begin(), nodes.end(), id), nodes.end());
            EXPECT_EQ(place_replicas(42, p, nodes, count), r);
            // The first k of a larger count are the placement for k: the score order is one
            // ranking per partition.
            if (count > 0) {
                const auto shorter = place_replicas(42, p, nodes, count - 1);
                EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), r.begin()));
            }
        }
    }
    // Known answers pin the hash. Every member computes the placement of a new topic itself
    // when it applies create_topic, so members running releases with different hashes would
    // disagree: changing it needs a new command version.
    EXPECT_EQ(place_replicas(1, 0, nodes, 5), (std::vector<uint64_t>{7, 4, 1, 9, 22}));
    EXPECT_EQ(place_replicas(1, 1, nodes, 5), (std::vector<uint64_t>{22, 9, 1, 7, 4}));
    EXPECT_EQ(place_replicas(1, 2, nodes, 5), (std::vector<uint64_t>{9, 4, 1, 22, 7}));
    EXPECT_EQ(place_replicas(123456789, 4095, nodes, 3), (std::vector<uint64_t>{1, 4, 7}));
}

TEST(placement, independent_of_node_order_and_duplicates) {
    std::vector<uint64_t> nodes = {1, 2, 3, 4, 5, 6, 7};
    std::mt19937_64 rng(7);
    for (uint32_t p = 0; p < 200; ++p) {
        const auto expected = place_replicas(3, p, nodes, 3);
        auto shuffled = nodes;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        EXPECT_EQ(place_replicas(3, p, shuffled, 3), expected);
        shuffled.push_back(shuffled.front());  // a duplicate is the same node
        EXPECT_EQ(place_replicas(3, p, shuffled, 3), expected);
    }
}

TEST(placement, spreads_and_differs_between_topics) {
    const std::vector<uint64_t> nodes = {1, 2, 3, 4, 5};
    std::map<uint64_t, int> first;
    std::map<uint64_t, int> anywhere;
    constexpr int partitions = 1000;
    int same_as_other_topic = 0;
    for (uint32_t p = 0; p < partitions; ++p) {
        const auto r = place_replicas(17, p, nodes, 3);
        ++first[r[0]];
        for (uint64_t id : r) ++anywhere[id];
        if (place_replicas(18, p, nodes, 3) == r) ++same_as_other_topic;
    }
    for (uint64_t id : nodes) {
        // Expected 200 (20%) each: 10..30% leaves room for chance, not for a skewed hash.
        EXPECT_GE(first[id], partitions / 10) << "node " << id;
        EXPECT_LE(first[id], partitions * 3 / 10) << "node " << id;
        EXPECT_GE(anywhere[id], partitions * 3 / 5 * 8 / 10) << "node " << id;  // 600 expected
        EXPECT_LE(anywhere[id], partitions * 3 / 5 * 12 / 10) << "node " << id;
    }
    // 60 ordered triples: two topics agree on about 1/60 of partitions, not on most.
    EXPECT_LT(same_as_other_topic, partitions / 10);
}

TEST(placement, adding_a_node_moves_only_what_it_takes) {
    const std::vector<uint64_t> five = {1, 2, 3, 4, 5};
    const std::vector<uint64_t> six = {1, 2, 3, 4, 5, 6};
    constexpr int partitions = 1000;
    for (uint32_t rf = 1; rf <= 3; ++rf) {
        int changed = 0;
        for (uint32_t p = 0; p < partitions; ++p) {
            const auto before = place_replicas(5, p, five, rf);
            const auto after = place_replicas(5, p, six, rf);
            if (before == after) continue;
            ++changed;
            // A change is the new node taking a place, the others keeping their order: the
            // old list minus its last entry, with node 6 inserted.
            auto without_new = after;
            const auto it = std::find(without_new.begin(), without_new.end(), 6u);
            ASSERT_NE(it, without_new.end()) << "partition " << p << " moved between old nodes";
            without_new.erase(it);
            EXPECT_TRUE(std::equal(without_new.begin(), without_new.end(), before.begin()))
                << "partition " << p;
        }
        // The least any placement can move is the new node's fair share, rf/6 of the
        // partitions; rendezvous hashing moves about that.
        const double expected = partitions * rf / 6.0;
        EXPECT_NEAR(changed, expected, partitions * 0.05) << "rf " << rf;
        if (rf < 3) {
            EXPECT_LT(changed, partitions / 2) << "rf " << rf;
        }
    }
}

TEST(placement, removing_a_node_moves_only_its_partitions) {
    const std::vector<uint64_t> six = {1, 2, 3, 4, 5, 6};
    const std::vector<uint64_t> without_3 = {1, 2, 4, 5, 6};
    for (uint32_t p = 0; p < 500; ++p) {
        const auto before = place_replicas(9, p, six, 3);
        const auto after = place_replicas(9, p, without_3, 3);
        if (std::find(before.begin(), before.end(), 3u) == before.end()) {
            EXPECT_EQ(after, before) << "partition " << p;
        }
    }
}

// --- apply ------------------------------------------------------------------------------------

TEST(controller_state_apply, register_node_adds_and_updates) {
    controller_state s;
    ASSERT_TRUE(s.apply(register_node(2)));
    ASSERT_TRUE(s.apply(register_node(1)));
    EXPECT_EQ(s.nodes().size(), 2u);
    controller_command moved = register_node(2);
    moved.node.raft_address = "10.9.9.9:7171";
    ASSERT_TRUE(s.apply(moved));
    EXPECT_EQ(s.nodes().size(), 2u);
    ASSERT_NE(s.find_node(2), nullptr);
    EXPECT_EQ(s.find_node(2)->raft_address, "10.9.9.9:7171");
    EXPECT_EQ(s.find_node(3), nullptr);

    const controller_state before = s;
    controller_command zero = register_node(0);
    auto r = s.apply(zero);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    controller_command no_address = register_node(5);
    no_address.node.raft_address.clear();
    EXPECT_FALSE(s.apply(no_address));
    controller_command control_char = register_node(5);
    control_char.node.host = "a\nb";
    EXPECT_FALSE(s.apply(control_char));
    EXPECT_EQ(s, before);
}

TEST(controller_state_apply, a_registration_without_ports_keeps_the_known_ones) {
    // The controller registers the static peers by cluster address only, and each node
    // registers itself with its client ports: in either order the ports stay.
    controller_state s;
    controller_command by_controller;
    by_controller.type = kind::register_node;
    by_controller.node.id = 2;
    by_controller.node.raft_address = "10.0.0.2:7171";
    ASSERT_TRUE(s.apply(register_node(2)));
    ASSERT_TRUE(s.apply(by_controller));
    ASSERT_NE(s.find_node(2), nullptr);
    EXPECT_EQ(s.find_node(2)->http_port, 8080);
    EXPECT_EQ(s.find_node(2)->raft_address, "10.0.0.2:7171");
    controller_state t;
    ASSERT_TRUE(t.apply(by_controller));
    ASSERT_TRUE(t.apply(register_node(2)));
    EXPECT_EQ(t.find_node(2)->http_port, 8080);
}

TEST(controller_state_apply, create_topic_places_every_partition) {
    controller_state s;
    for (uint64_t id : {10, 20, 30, 40}) ASSERT_TRUE(s.apply(register_node(id)));
    ASSERT_TRUE(s.apply(create_topic("orders", 16, 3)));
    ASSERT_TRUE(s.apply(create_topic("clicks", 2, 1)));
    const topic_entry* orders = s.find_topic("orders");
    const topic_entry* clicks = s.find_topic("clicks");
    ASSERT_NE(orders, nullptr);
    ASSERT_NE(clicks, nullptr);
    EXPECT_EQ(orders->id, 1u);
    EXPECT_EQ(clicks->id, 2u);
    EXPECT_EQ(s.next_topic_id(), 3u);
    EXPECT_EQ(s.find_topic(uint64_t{2}), clicks);
    EXPECT_EQ(s.find_topic(uint64_t{3}), nullptr);
    ASSERT_EQ(orders->partitions.size(), 16u);
    const std::vector<uint64_t> ids = {10, 20, 30, 40};
    for (uint32_t p = 0; p < 16; ++p) {
        EXPECT_EQ(orders->partitions[p].replicas, place_replicas(1, p, ids, 3));
        EXPECT_EQ(orders->partitions[p].leader, 0u);
        EXPECT_EQ(orders->partitions[p].leader_term, 0u);
    }
    EXPECT_EQ(orders->config.replication_factor, 3u);
}

TEST(controller_state_apply, create_topic_refusals_leave_state_unchanged) {
    controller_state s;
    ASSERT_TRUE(s.apply(register_node(1)));
    ASSERT_TRUE(s.apply(register_node(2)));
    ASSERT_TRUE(s.apply(create_topic("taken", 1, 1)));
    const controller_state before = s;

    auto too_many = s.apply(create_topic("t", 3, 3));
    ASSERT_FALSE(too_many);
    EXPECT_EQ(too_many.err().code, errc::invalid_argument);
    EXPECT_NE(too_many.err().message.find("2 nodes are registered"), std::string::npos)
        << too_many.err().message;

    auto dup = s.apply(create_topic("taken", 1, 1));
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.err().code, errc::already_exists);

    auto bad_name = s.apply(create_topic("no spaces", 1, 1));
    ASSERT_FALSE(bad_name);
    EXPECT_EQ(bad_name.err().code, errc::invalid_argument);

    // Memory topics are not replicated (validate_topic_config's rule).
    controller_command memory_rf2 = create_topic("m", 1, 2);
    memory_rf2.config.storage = core::storage_mode::memory;
    auto memory = s.apply(memory_rf2);
    ASSERT_FALSE(memory);
    EXPECT_NE(memory.err().message.find("memory"), std::string::npos) << memory.err().message;

    auto zero_partitions = s.apply(create_topic("z", 0, 1));
    EXPECT_FALSE(zero_partitions);

    EXPECT_EQ(s, before);  // next_topic_id included: refusals use up no id

    // One node registered: the message says so in the singular.
    controller_state lone;
    ASSERT_TRUE(lone.apply(register_node(1)));
    auto r = lone.apply(create_topic("t", 1, 2));
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find("1 node is registered"), std::string::npos) << r.err().message;
    controller_state empty;
    auto none = empty.apply(create_topic("t", 1, 1));
    ASSERT_FALSE(none);
    EXPECT_NE(none.err().message.find("0 nodes are registered"), std::string::npos);
}

TEST(controller_state_apply, delete_topic_and_ids_are_never_reused) {
    controller_state s;
    ASSERT_TRUE(s.apply(register_node(1)));
    ASSERT_TRUE(s.apply(create_topic("a", 1, 1)));
    auto unknown = s.apply(delete_topic("nope"));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.err().code, errc::not_found);
    ASSERT_TRUE(s.apply(delete_topic("a")));
    EXPECT_EQ(s.find_topic("a"), nullptr);
    auto again = s.apply(delete_topic("a"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.err().code, errc::not_found);
    ASSERT_TRUE(s.apply(create_topic("a", 1, 1)));
    EXPECT_EQ(s.find_topic("a")->id, 2u);
}

TEST(controller_state_apply, leader_reports_follow_terms_and_replicas) {
    controller_state s;
    for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(s.apply(register_node(id)));
    ASSERT_TRUE(s.apply(create_topic("t", 2, 3)));
    const uint64_t tid = s.find_topic("t")->id;
    const auto replicas = s.find_topic("t")->partitions[1].replicas;
    uint64_t outsider = 1;
    while (std::find(replicas.begin(), replicas.end(), outsider) != replicas.end()) ++outsider;

    ASSERT_TRUE(s.apply(leader_report(tid, 1, replicas[0], 3)));
    EXPECT_EQ(s.find_topic("t")->partitions[1].leader, replicas[0]);
    EXPECT_EQ(s.find_topic("t")->partitions[1].leader_term, 3u);
    EXPECT_EQ(s.find_topic("t")->partitions[0].leader, 0u);

    const controller_state at_3 = s;
    auto stale = s.apply(leader_report(tid, 1, replicas[1], 2));
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.err().code, errc::invalid_argument);
    auto outside = s.apply(leader_report(tid, 1, outsider, 9));
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.err().code, errc::invalid_argument);
    EXPECT_NE(outside.err().message.find("not a replica"), std::string::npos);
    auto no_topic = s.apply(leader_report(tid + 1, 0, replicas[0], 9));
    ASSERT_FALSE(no_topic);
    EXPECT_EQ(no_topic.err().code, errc::not_found);
    auto no_partition = s.apply(leader_report(tid, 2, replicas[0], 9));
    ASSERT_FALSE(no_partition);
    EXPECT_EQ(no_partition.err().code, errc::not_found);
    EXPECT_EQ(s, at_3);

    // The same term again (a replayed report) and a newer term are taken.
    ASSERT_TRUE(s.apply(leader_report(tid, 1, replicas[0], 3)));
    EXPECT_EQ(s, at_3);
    ASSERT_TRUE(s.apply(leader_report(tid, 1, replicas[2], 4)));
    EXPECT_EQ(s.find_topic("t")->partitions[1].leader, replicas[2]);
    EXPECT_EQ(s.find_topic("t")->partitions[1].leader_term, 4u);
}

TEST(controller_state_apply, same_commands_same_state) {
    // Determinism: two states fed one random sequence agree, refusals included.
    std::mt19937_64 rng(99);
    controller_state a;
    controller_state b;
    for (int i = 0; i < 3000; ++i) {
        controller_command c;
        switch (rng() % 4) {
            case 0:
                c = register_node(1 + rng() % 8);
                break;
            case 1:
                c = create_topic(name_of(rng() % 40), 1 + rng() % 6, 1 + rng() % 4);
                break;
            case 2:
                c = delete_topic(name_of(rng() % 40));
                break;
            default:
                c = leader_report(1 + rng() % 60, rng() % 6, 1 + rng() % 8, rng() % 20);
                break;
        }
        const bool ok = static_cast<bool>(a.apply(c));
        EXPECT_EQ(static_cast<bool>(b.apply(c)), ok);
    }
    EXPECT_EQ(a, b);
    EXPECT_GT(a.topics().size(), 0u);
}

// --- snapshot ---------------------------------------------------------------------------------

TEST(controller_state_snapshot, round_trip_equals) {
    const controller_state s = populated(5);
    controller_state restored;
    ASSERT_TRUE(restored.restore(s.snapshot()));
    EXPECT_EQ(restored, s);
    EXPECT_EQ(restored.next_topic_id(), 4u);
    EXPECT_EQ(restored.snapshot(), s.snapshot());

    // Restoring replaces: what was there before is gone.
    controller_state other = populated(3);
    ASSERT_TRUE(other.restore(s.snapshot()));
    EXPECT_EQ(other, s);
    ASSERT_TRUE(other.restore(controller_state{}.snapshot()));
    EXPECT_EQ(other, controller_state{});
}

TEST(controller_state_snapshot, random_states_round_trip) {
    std::mt19937_64 rng(2024);
    controller_state s;
    for (int i = 0; i < 400; ++i) {
        controller_command c;
        switch (rng() % 4) {
            case 0:
                c = register_node(1 + rng() % 6);
                break;
            case 1:
                c = create_topic(name_of(rng() % 30), 1 + rng() % 9, 1);
                break;
            case 2:
                c = delete_topic(name_of(rng() % 30));
                break;
            default: {
                if (s.topics().empty()) continue;
                auto it = s.topics().begin();
                std::advance(it, rng() % s.topics().size());
                const uint32_t p = rng() % it->second.partitions.size();
                c = leader_report(it->second.id, p, it->second.partitions[p].replicas[0],
                                  rng() % 10);
                break;
            }
        }
        (void)s.apply(c);
        if (i % 20 == 0) {
            controller_state r;
            ASSERT_TRUE(r.restore(s.snapshot()));
            ASSERT_EQ(r, s) << "after " << i << " commands";
        }
    }
}

// Restores `doc` into a populated state and expects a refusal that changes nothing.
void expect_refused(const std::string& doc, const std::string& why) {
    controller_state s = populated(4);
    const controller_state before = s;
    auto r = s.restore(bytes_of(doc));
    ASSERT_FALSE(r) << why << ": " << doc;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << why;
    EXPECT_FALSE(r.err().message.empty());
    EXPECT_EQ(s, before) << why;
}

TEST(controller_state_snapshot, corrupt_snapshots_are_refused_and_change_nothing) {
    const controller_state good = populated(5);
    const std::string text = text_of(good.snapshot());
    const json doc = json::parse(text);

    for (size_t n = 0; n < text.size(); n += 7) expect_refused(text.substr(0, n), "truncated");
    expect_refused("garbage", "not JSON");
    expect_refused("[1,2]", "not an object");

    const auto edited = [&](auto&& change) {
        json d = doc;
        change(d);
        return d.dump();
    };
    expect_refused(edited([](json& d) { d["v"] = 2; }), "future version");
    expect_refused(edited([](json& d) { d.erase("v"); }), "no version");
    expect_refused(edited([](json& d) { d["extra"] = 1; }), "extra field");
    expect_refused(edited([](json& d) { d["next_topic_id"] = 0; }), "next id 0");
    expect_refused(edited([](json& d) { d["next_topic_id"] = 2; }), "next id below a topic id");
    expect_refused(edited([](json& d) { d["nodes"].push_back(d["nodes"][0]); }), "node twice");
    expect_refused(edited([](json& d) { d["nodes"][0]["id"] = 0; }), "node id 0");
    expect_refused(edited([](json& d) { d["nodes"] = json::object(); }), "nodes not an array");
    expect_refused(edited([](json& d) { d["topics"].push_back(d["topics"][0]); }), "topic twice");
    expect_refused(edited([](json& d) {
                       json t = d["topics"][0];
                       t["config"]["name"] = "other";
                       d["topics"].push_back(t);
                   }),
                   "topic id twice");
    expect_refused(edited([](json& d) { d["topics"][0]["config"]["partitions"] = 9; }),
                   "partition count differs");
    expect_refused(edited([](json& d) { d["topics"][0]["config"]["name"] = "a b"; }),
                   "invalid topic name");
    expect_refused(edited([](json& d) { d["topics"][0]["config"]["storage"] = "tape"; }),
                   "unknown storage");
    expect_refused(edited([](json& d) { d["topics"][0]["partitions"][0]["replicas"][0] = 99; }),
                   "replica on an unknown node");
    expect_refused(edited([](json& d) {
                       auto& r = d["topics"][0]["partitions"][0]["replicas"];
                       r[1] = r[0];
                   }),
                   "replica twice");
    expect_refused(
        edited([](json& d) { d["topics"][0]["partitions"][0]["replicas"].erase(size_t{0}); }),
        "too few replicas");
    expect_refused(edited([](json& d) {
                       auto& p = d["topics"][0]["partitions"][0];
                       p["leader"] = 99;
                       p["leader_term"] = 1;
                   }),
                   "leader not a replica");
    expect_refused(edited([](json& d) {
                       auto& p = d["topics"][0]["partitions"][0];
                       p["leader"] = 0;
                       p["leader_term"] = 3;
                   }),
                   "term without a leader");
    expect_refused(edited([](json& d) { d["topics"][0]["partitions"][0]["leader"] = -1; }),
                   "negative leader");
    expect_refused(edited([](json& d) { d["topics"][0].erase("id"); }), "topic without id");

    // The unedited document is fine: the refusals above are for the edits.
    controller_state s = populated(4);
    ASSERT_TRUE(s.restore(bytes_of(doc.dump())));
    EXPECT_EQ(s, good);
}

}  // namespace
}  // namespace es::replication
