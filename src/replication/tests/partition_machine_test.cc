// partition_machine against a real RocksDB store: commands decode only when whole and
// consistent, batches apply idempotently by offset (a replayed Raft log does no harm), group
// commits and producer state follow the log, and snapshots carry the producer state and refuse
// to claim events this replica lacks unless it can fetch them.
#include "replication/partition_machine.h"

#include <gtest/gtest.h>

#include "storage/log_store.h"
#include "storage/tests/store_fixture.h"

namespace es::replication {
namespace {

using storage::testing::durable_topic;
using storage::testing::open_store;
using storage::testing::simple_run;
using storage::testing::temp_dir;

constexpr uint64_t topic = 7;

std::vector<std::byte> batch(uint64_t base, uint32_t n,
                             std::vector<core::producer_append> producers = {}) {
    const auto run = simple_run(base, n);
    return encode_batch_command(base, n, run.bytes, producers);
}

class partition_machine_test : public ::testing::Test {
  protected:
    void SetUp() override {
        store_ = open_store(dir_.store());
        ASSERT_TRUE(store_);
        ASSERT_TRUE(store_->put_topic(durable_topic(topic, "orders")));
    }

    uint64_t end(uint32_t partition = 0) {
        auto b = store_->bounds(topic, partition);
        EXPECT_TRUE(b) << b.err().message;
        return b ? b->end_offset : 0;
    }

    // Another replica's store, in `dir`, with the topic and no events.
    static std::unique_ptr<storage::log_store> replica_store(const temp_dir& dir) {
        auto s = open_store(dir.store());
        EXPECT_TRUE(s);
        if (s) {
            EXPECT_TRUE(s->put_topic(durable_topic(topic, "orders")));
        }
        return s;
    }

    temp_dir dir_;
    std::unique_ptr<storage::log_store> store_;
};

TEST(partition_command, batch_round_trip_with_producers) {
    const auto run = simple_run(40, 3);
    const std::vector<core::producer_append> producers{{9, 100, 2, 40}, {11, 5, 1, 42}};
    const auto bytes = encode_batch_command(40, 3, run.bytes, producers);
    auto c = decode_partition_command(bytes);
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->type, partition_command::kind::batch);
    EXPECT_EQ(c->base_offset, 40u);
    EXPECT_EQ(c->count, 3u);
    EXPECT_EQ(c->records.size(), run.bytes.size());
    ASSERT_EQ(c->producers.size(), 2u);
    EXPECT_EQ(c->producers[1].producer_id, 11u);
    EXPECT_EQ(c->producers[1].base_offset, 42u);
}

TEST(partition_command, commit_round_trip) {
    auto c = decode_partition_command(encode_commit_command("billing", 77));
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->type, partition_command::kind::commit_offset);
    EXPECT_EQ(c->group, "billing");
    EXPECT_EQ(c->offset, 77u);
}

TEST(partition_command, every_truncation_and_bad_field_is_refused) {
    const auto good = batch(0, 4, {{3, 0, 4, 0}});
    for (size_t n = 0; n < good.size(); ++n) {
        auto c = decode_partition_command(std::span(good).first(n));
        EXPECT_FALSE(c) << "a command cut to " << n << " bytes decoded";
        if (!c) {
            EXPECT_EQ(c.err().code, errc::invalid_argument);
        }
    }
    auto wrong_version = good;
    wrong_version[0] = std::byte{9};
    EXPECT_FALSE(decode_partition_command(wrong_version));
    auto wrong_kind = good;
    wrong_kind[1] = std::byte{42};
    EXPECT_FALSE(decode_partition_command(wrong_kind));
    // Records whose offsets do not follow the batch's base offset.
    const auto run = simple_run(5, 2);
    EXPECT_FALSE(decode_partition_command(encode_batch_command(6, 2, run.bytes, {})));
    // A producer batch outside the batch's offsets.
    EXPECT_FALSE(decode_partition_command(batch(10, 2, {{3, 0, 2, 11}})));
    EXPECT_FALSE(decode_partition_command(batch(10, 2, {{0, 0, 1, 10}})));
    // Extra bytes after the records.
    auto extra = good;
    extra.push_back(std::byte{0});
    EXPECT_FALSE(decode_partition_command(extra));
    // A commit whose group length disagrees with its size.
    auto commit = encode_commit_command("g", 1);
    commit.push_back(std::byte{'x'});
    EXPECT_FALSE(decode_partition_command(commit));
}

TEST_F(partition_machine_test, applies_batches_idempotently_by_offset) {
    partition_machine m(*store_, topic, 0);
    ASSERT_TRUE(m.apply(1, batch(0, 5)));
    ASSERT_TRUE(m.apply(2, batch(5, 3)));
    EXPECT_EQ(end(), 8u);
    // The Raft log replayed after a restart: the same commands again change nothing.
    ASSERT_TRUE(m.apply(1, batch(0, 5)));
    ASSERT_TRUE(m.apply(2, batch(5, 3)));
    EXPECT_EQ(end(), 8u);
    // A different batch at offsets already held is refused: applying it would acknowledge
    // events that are not stored.
    const auto other = simple_run(5, 3, 1000, "other-");
    auto taken = m.apply(3, encode_batch_command(5, 3, other.bytes, {}));
    ASSERT_FALSE(taken);
    EXPECT_EQ(taken.err().code, errc::invalid_argument);
    EXPECT_NE(taken.err().message.find("already hold other events"), std::string::npos);
    // A batch that would leave a hole is refused, and the log stays as it was.
    auto hole = m.apply(3, batch(20, 1));
    ASSERT_FALSE(hole);
    EXPECT_EQ(hole.err().code, errc::invalid_argument);
    EXPECT_EQ(end(), 8u);
    // The other partition is untouched.
    EXPECT_EQ(end(1), 0u);
}

TEST_F(partition_machine_test, garbage_command_is_refused_without_effect) {
    partition_machine m(*store_, topic, 0);
    const std::vector<std::byte> junk(13, std::byte{0x5a});
    auto s = m.apply(1, junk);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::invalid_argument);
    EXPECT_EQ(end(), 0u);
}

TEST_F(partition_machine_test, group_commits_go_to_the_store) {
    partition_machine m(*store_, topic, 1);
    ASSERT_TRUE(m.apply(1, encode_commit_command("billing", 12)));
    auto c = store_->committed_offset(topic, "billing", 1);
    ASSERT_TRUE(c) << c.err().message;
    ASSERT_TRUE(c->has_value());
    EXPECT_EQ(**c, 12u);
}

TEST_F(partition_machine_test, producer_state_follows_the_log_and_its_snapshot) {
    partition_machine m(*store_, topic, 0);
    ASSERT_TRUE(m.apply(1, batch(0, 3, {{42, 0, 3, 0}})));
    ASSERT_TRUE(m.apply(2, batch(3, 2, {{42, 3, 2, 3}})));
    const core::producer_table t = m.producers();
    // A retry of the second batch is a duplicate whose offset is known; the next is new.
    auto dup = t.check(42, 3, 2);
    EXPECT_EQ(dup.what, core::producer_table::verdict::duplicate);
    EXPECT_TRUE(dup.known_offset);
    EXPECT_EQ(dup.base_offset, 3u);
    EXPECT_EQ(t.check(42, 5, 1).what, core::producer_table::verdict::append);
    EXPECT_EQ(t.check(42, 9, 1).what, core::producer_table::verdict::out_of_order);

    // Another replica of the same partition (its own store, already holding the events)
    // restores the snapshot and knows the producer as well.
    auto snap = m.snapshot();
    ASSERT_TRUE(snap) << snap.err().message;
    partition_machine other(*store_, topic, 0);
    ASSERT_TRUE(other.restore(*snap));
    EXPECT_TRUE(other.producers() == t);
}

TEST_F(partition_machine_test, snapshot_beyond_the_store_needs_a_catch_up) {
    partition_machine leader(*store_, topic, 0);
    ASSERT_TRUE(leader.apply(1, batch(0, 6)));
    auto snap = leader.snapshot();
    ASSERT_TRUE(snap) << snap.err().message;

    // A replica whose store holds only the first 2 events.
    temp_dir other_dir;
    auto other_store = replica_store(other_dir);
    ASSERT_TRUE(other_store);
    const auto first = simple_run(0, 2);
    const auto b = first.to(topic, 0);
    ASSERT_TRUE(other_store->append({&b, 1}, false));

    // Without a way to fetch, it refuses rather than claim events it does not hold.
    partition_machine lacking(*other_store, topic, 0);
    auto refused = lacking.restore(*snap);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.err().code, errc::unavailable);

    // With one, it fetches exactly the missing range before it accepts the snapshot.
    uint64_t asked_from = 0, asked_end = 0;
    partition_machine fetching(*other_store, topic, 0,
                               [&](uint64_t t, uint32_t p, uint64_t from, uint64_t to) -> status {
                                   EXPECT_EQ(t, topic);
                                   EXPECT_EQ(p, 0u);
                                   asked_from = from;
                                   asked_end = to;
                                   const auto rest = simple_run(from, to - from);
                                   const auto batch = rest.to(topic, 0);
                                   return other_store->append({&batch, 1}, false);
                               });
    ASSERT_TRUE(fetching.restore(*snap));
    EXPECT_EQ(asked_from, 2u);
    EXPECT_EQ(asked_end, 6u);
    auto bounds = other_store->bounds(topic, 0);
    ASSERT_TRUE(bounds);
    EXPECT_EQ(bounds->end_offset, 6u);

    // A snapshot of another partition, or a damaged one, is refused.
    partition_machine p1(*store_, topic, 1);
    EXPECT_FALSE(p1.restore(*snap));
    auto damaged = *snap;
    damaged.resize(damaged.size() - 1);
    EXPECT_FALSE(leader.restore(damaged));
}

TEST_F(partition_machine_test, group_offsets_travel_in_the_snapshot) {
    partition_machine leader(*store_, topic, 1);
    ASSERT_TRUE(leader.apply(1, batch(0, 4)));
    ASSERT_TRUE(leader.apply(2, encode_commit_command("billing", 3)));
    ASSERT_TRUE(leader.apply(3, encode_commit_command("audit", 1)));
    ASSERT_TRUE(leader.apply(4, encode_commit_command("billing", 4)));
    // Another partition's commit stays out of this partition's snapshot.
    partition_machine p0(*store_, topic, 0);
    ASSERT_TRUE(p0.apply(1, encode_commit_command("elsewhere", 9)));
    auto snap = leader.snapshot();
    ASSERT_TRUE(snap) << snap.err().message;

    // A replica that never saw the commits (libraft dropped those entries for the snapshot)
    // installs it: it fetches the events and takes the offsets.
    temp_dir other_dir;
    auto other_store = replica_store(other_dir);
    ASSERT_TRUE(other_store);
    ASSERT_TRUE(other_store->commit_offset(topic, "billing", 1, 1, false));  // an older commit
    partition_machine replica(*other_store, topic, 1,
                              [&](uint64_t t, uint32_t p, uint64_t from, uint64_t to) -> status {
                                  const auto rest = simple_run(from, to - from);
                                  const auto b = rest.to(t, p);
                                  return other_store->append({&b, 1}, false);
                              });
    ASSERT_TRUE(replica.restore(*snap));
    auto offsets = other_store->committed_offsets(topic, 1);
    ASSERT_TRUE(offsets) << offsets.err().message;
    EXPECT_EQ(*offsets,
              (std::vector<std::pair<std::string, uint64_t>>{{"audit", 1}, {"billing", 4}}));
    auto none = other_store->committed_offset(topic, "elsewhere", 1);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
}

TEST(partition_snapshot, round_trip_and_version_1) {
    partition_snapshot s;
    s.topic_id = 7;
    s.partition = 3;
    s.end_offset = 1000;
    s.producers.appended(42, 0, 5, 995, 995);
    s.group_offsets = {{"a", 1}, {std::string(255, 'g'), 999}};
    const auto bytes = encode_partition_snapshot(s);
    auto back = decode_partition_snapshot(bytes);
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(back->topic_id, 7u);
    EXPECT_EQ(back->partition, 3u);
    EXPECT_EQ(back->end_offset, 1000u);
    EXPECT_TRUE(back->producers == s.producers);
    EXPECT_EQ(back->group_offsets, s.group_offsets);

    // Version 1 (before group offsets): the head and the producer table only.
    std::vector<std::byte> v1(bytes.begin(), bytes.begin() + 21);
    v1[0] = std::byte{1};
    s.producers.encode(v1);
    auto old = decode_partition_snapshot(v1);
    ASSERT_TRUE(old) << old.err().message;
    EXPECT_EQ(old->end_offset, 1000u);
    EXPECT_TRUE(old->producers == s.producers);
    EXPECT_TRUE(old->group_offsets.empty());

    // Every truncation is refused, as are a group count that cannot fit, a bad group name,
    // bytes left over and an unknown version.
    for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(decode_partition_snapshot(std::span(bytes).first(n))) << n;
    }
    auto extra = bytes;
    extra.push_back(std::byte{0});
    EXPECT_FALSE(decode_partition_snapshot(extra));
    auto version = bytes;
    version[0] = std::byte{3};
    EXPECT_FALSE(decode_partition_snapshot(version));
    partition_snapshot empty_name = s;
    empty_name.group_offsets = {{"", 1}};
    EXPECT_FALSE(decode_partition_snapshot(encode_partition_snapshot(empty_name)));
    auto many = encode_partition_snapshot(partition_snapshot{});
    many[many.size() - 4] = std::byte{0xff};  // the group count's low byte: 255 groups, no bytes
    EXPECT_FALSE(decode_partition_snapshot(many));
}

TEST_F(partition_machine_test, large_batches_make_snapshots_come_sooner) {
    std::vector<std::pair<uint32_t, uint32_t>> set;
    snapshot_sizing sizing;
    sizing.log_bytes = 16 << 20;
    sizing.threshold_max = 16384;
    sizing.trailing_max = 2048;
    sizing.set = [&](uint32_t threshold, uint32_t trailing) {
        set.emplace_back(threshold, trailing);
    };
    partition_machine m(*store_, topic, 0, {}, sizing);
    // Small commands: the log at the largest threshold stays far below 16 MiB; no change.
    for (uint64_t o = 0; o < 200; ++o) ASSERT_TRUE(m.apply(o + 1, batch(o, 1)));
    EXPECT_TRUE(set.empty());
    // Batches of about 64 KiB: 16 MiB of log is about 256 of them.
    storage::testing::test_event big;
    big.payload.assign(64 * 1024, 'x');
    for (uint64_t o = 200; o < 500; ++o) {
        const auto run = storage::testing::encode_run(o, {big});
        ASSERT_TRUE(m.apply(o + 1, encode_batch_command(o, 1, run.bytes, {})));
    }
    ASSERT_FALSE(set.empty());
    EXPECT_GE(set.back().first, 200u);
    EXPECT_LE(set.back().first, 512u);
    EXPECT_EQ(set.back().second, 2048ull * set.back().first / 16384);
}

}  // namespace
}  // namespace es::replication
