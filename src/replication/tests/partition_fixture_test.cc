// partition_machine replicated by real libraft in its in-memory cluster fixture, each server
// with its own RocksDB store: seeded runs of batch and group-commit proposals interleaved with
// network partitions, servers cut off from the others and elections. At the end every server's
// store holds the same log, byte for byte, with offsets from 0 and no gap; every batch libraft
// reported applied is there at the offsets it was proposed with; and the producer state and group
// offsets agree.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "replication/partition_machine.h"
#include "replication/tests/raft_fixture_cluster.h"
#include "storage/log_store.h"
#include "storage/tests/store_fixture.h"

namespace es::replication {
namespace {

using storage::testing::durable_topic;
using storage::testing::open_store;
using storage::testing::simple_run;
using testing::fault_injector;
using testing::fixture_cluster;

constexpr uint64_t topic = 3;
constexpr uint64_t producer = 77;

// One server: its own store, and the partition machine over it.
struct replica final : state_machine {
    replica() : store(open_store(dir.store())) {
        EXPECT_TRUE(store);
        EXPECT_TRUE(store->put_topic(durable_topic(topic, "orders", 1)));
        machine = std::make_unique<partition_machine>(*store, topic, 0);
    }
    status apply(uint64_t index, std::span<const std::byte> command) override {
        return machine->apply(index, command);
    }
    result<std::vector<std::byte>> snapshot() override { return machine->snapshot(); }
    status restore(std::span<const std::byte> s) override { return machine->restore(s); }

    uint64_t end() const {
        auto b = store->bounds(topic, 0);
        EXPECT_TRUE(b) << b.err().message;
        return b ? b->end_offset : 0;
    }
    // Every record of the partition, back to back.
    std::vector<std::byte> log() const {
        std::vector<std::byte> all, chunk;
        uint64_t from = 0;
        for (;;) {
            auto r = store->read(topic, 0, from, 100000, 1 << 20, chunk);
            EXPECT_TRUE(r) << r.err().message;
            if (!r || r->count == 0) break;
            EXPECT_EQ(r->start_offset, 0u);
            all.insert(all.end(), chunk.begin(), chunk.end());
            from += r->count;
        }
        return all;
    }

    storage::testing::temp_dir dir;
    std::unique_ptr<storage::log_store> store;
    std::unique_ptr<partition_machine> machine;
};

using cluster = fixture_cluster<replica>;

struct proposed_batch {
    const cluster::proposal* proposal;
    uint64_t base;
    uint32_t count;
    std::string prefix;
};

struct chaos_stats {
    int proposals = 0;
    int lost = 0;  // no answer, or libraft gave up on it
};

void run_chaos(unsigned n, uint64_t seed, uint64_t run, chaos_stats& stats) {
    SCOPED_TRACE("servers " + std::to_string(n) + " run " + std::to_string(run) +
                 " (rerun with ES_SEED=" + std::to_string(seed) + ")");
    std::mt19937_64 rng(seed + run);
    cluster c(n, [](unsigned) { return std::make_unique<replica>(); });
    struct raft_fixture* f = c.fixture();
    raft_fixture_elect(f, 0);

    fault_injector faults(f);
    std::vector<proposed_batch> batches;
    uint64_t next_sequence = 0;  // the idempotent producer's, as acknowledged
    for (int step = 0; step < 60; ++step) {
        faults.step(rng);

        unsigned leader = c.find_leader(1000);
        if (leader == n) {
            // No leader within the budget: propose on a random member (a deposed leader that
            // does not know it yet may accept the batch and then lose it).
            leader = rng() % n;
        } else {
            // As a new leader does (a barrier) before it takes publishes: apply everything in
            // its log, so that it continues from its true end.
            struct raft* r = c.raft(leader);
            if (raft_last_applied(r) < raft_last_index(r)) {
                raft_fixture_step_until_applied(f, leader, raft_last_index(r), 1000);
            }
        }
        const uint64_t base = c.machine(leader).end();
        // Often too short for an answer: the batch may still be committed later.
        const unsigned budget = 1 + static_cast<unsigned>(rng() % 600);
        if (rng() % 7 == 0) {
            c.propose(leader, encode_commit_command("g", rng() % (base + 1)), budget);
            continue;
        }
        const auto count = static_cast<uint32_t>(1 + rng() % 5);
        // Appended, not "s" + ...: GCC 12 warns falsely about operator+ there (-Wrestrict).
        std::string prefix = "s";
        prefix += std::to_string(step);
        prefix += '-';
        const auto records = simple_run(base, count, 1000 + step, prefix);
        std::vector<core::producer_append> producers;
        if (rng() % 2 == 0) producers.push_back({producer, next_sequence, count, base});
        cluster::proposal& p =
            c.propose(leader, encode_batch_command(base, count, records.bytes, producers), budget);
        if (p.done && p.raft_rc == 0 && p.ok && !producers.empty()) next_sequence += count;
        batches.push_back({&p, base, count, prefix});
    }

    // Heal every link and server, then let every server apply everything.
    faults.heal();
    ASSERT_LT(c.find_leader(4 * testing::step_budget_ms), n) << "no leader after healing";
    ASSERT_TRUE(c.settle()) << "the servers did not catch up";

    for (const auto& p : c.proposals()) {
        ++stats.proposals;
        if (!p->done || p->raft_rc != 0) ++stats.lost;
    }

    // One log everywhere, offsets 0..end without a gap (read() checks every record).
    const std::vector<std::byte> reference = c.machine(0).log();
    const uint64_t end = c.machine(0).end();
    for (unsigned i = 1; i < n; ++i) {
        EXPECT_EQ(c.machine(i).end(), end) << "server " << i;
        EXPECT_TRUE(c.machine(i).log() == reference) << "server " << i << " holds another log";
        EXPECT_TRUE(c.machine(i).machine->producers() == c.machine(0).machine->producers())
            << "server " << i;
        auto mine = c.machine(i).store->committed_offset(topic, "g", 0);
        auto first = c.machine(0).store->committed_offset(topic, "g", 0);
        ASSERT_TRUE(mine && first);
        EXPECT_EQ(*mine, *first) << "server " << i;
    }
    // Every batch applied on its leader is in the log at its offsets, with its payloads.
    std::vector<std::byte> chunk;
    for (const proposed_batch& b : batches) {
        if (!(b.proposal->done && b.proposal->raft_rc == 0 && b.proposal->ok)) continue;
        auto r = c.machine(n - 1).store->read(topic, 0, b.base, b.count, 1 << 20, chunk);
        ASSERT_TRUE(r) << r.err().message;
        ASSERT_EQ(r->count, b.count) << "batch at " << b.base;
        size_t at = 0;
        for (uint32_t k = 0; k < b.count; ++k) {
            const auto v = core::event_view::of(chunk.data() + at);
            EXPECT_EQ(v.offset, b.base + k);
            EXPECT_EQ(std::string(v.payload), b.prefix + std::to_string(b.base + k));
            at += v.record.size();
        }
    }
    // The producer's acknowledged batches are all known: a retry of any is a duplicate.
    if (next_sequence > 0) {
        const auto retry = c.machine(0).machine->producers().check(producer, next_sequence - 1, 1);
        EXPECT_EQ(retry.what, core::producer_table::verdict::duplicate);
    }
}

TEST(partition_fixture_chaos, partitions_and_isolated_servers_leave_one_log_on_every_replica) {
    const uint64_t seed = testing::base_seed();
    chaos_stats stats;
    for (unsigned n : {3u, 5u}) {
        for (uint64_t run = 0; run < 5; ++run) {
            run_chaos(n, seed, run, stats);
            if (HasFatalFailure()) return;
        }
    }
    std::printf("partition chaos: seed %llu, %d proposals, %d lost to faults\n",
                static_cast<unsigned long long>(seed), stats.proposals, stats.lost);
    EXPECT_GT(stats.lost, 0) << "seed " << seed << ": the faults never cost a proposal";
}

}  // namespace
}  // namespace es::replication
