// Idempotent producer bookkeeping: the table alone, then through the engine (a retried batch
// is acknowledged once more without being appended twice; a gap in the numbers is refused).
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/feed.h"
#include "core/producer_state.h"

namespace es::core {
namespace {

using namespace std::chrono_literals;

TEST(producer_table, new_producers_append_then_follow_their_numbers) {
    producer_table t;
    EXPECT_EQ(t.check(7, 100, 3).what, producer_table::verdict::append);  // any start
    t.appended(7, 100, 3, 40, 1);
    EXPECT_EQ(t.check(7, 103, 1).what, producer_table::verdict::append);
    auto gap = t.check(7, 105, 1);
    EXPECT_EQ(gap.what, producer_table::verdict::out_of_order);
    EXPECT_EQ(gap.expected_sequence, 103u);
    auto again = t.check(7, 100, 3);
    EXPECT_EQ(again.what, producer_table::verdict::duplicate);
    ASSERT_TRUE(again.known_offset);
    EXPECT_EQ(again.base_offset, 40u);
    // A different split of old numbers is still a duplicate, with unknown offsets.
    auto part = t.check(7, 101, 1);
    EXPECT_EQ(part.what, producer_table::verdict::duplicate);
    EXPECT_FALSE(part.known_offset);
    // Other producers are independent.
    EXPECT_EQ(t.check(8, 0, 1).what, producer_table::verdict::append);
}

TEST(producer_table, keeps_the_last_few_batches_and_forgets_the_oldest_producer_when_full) {
    producer_table t;
    for (uint64_t i = 0; i < 10; ++i) t.appended(1, i, 1, 100 + i, i);
    EXPECT_TRUE(t.check(1, 9, 1).known_offset);
    EXPECT_TRUE(t.check(1, 10 - producer_batches_kept, 1).known_offset);
    EXPECT_FALSE(t.check(1, 10 - producer_batches_kept - 1, 1).known_offset);

    producer_table full;
    for (uint64_t id = 1; id <= max_producers_per_partition; ++id) full.appended(id, 0, 1, id, id);
    full.appended(1, 1, 1, 0, max_producers_per_partition + 1);  // producer 1 used again
    full.appended(max_producers_per_partition + 1, 0, 1, 0, max_producers_per_partition + 2);
    EXPECT_EQ(full.size(), max_producers_per_partition);
    // Producer 2 was the least recently used: forgotten, so its next batch counts as new.
    EXPECT_EQ(full.check(2, 0, 1).what, producer_table::verdict::append);
    EXPECT_EQ(full.check(1, 1, 1).what, producer_table::verdict::duplicate);
}

struct outcomes {
    std::mutex m;
    std::vector<publish_outcome> got;
    publish_completion completion() {
        return {[](void* ctx, const publish_outcome& o) {
                    auto* s = static_cast<outcomes*>(ctx);
                    std::lock_guard l(s->m);
                    s->got.push_back(o);
                },
                this};
    }
    bool wait_for(size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        for (;;) {
            {
                std::lock_guard l(m);
                if (got.size() >= n) return true;
            }
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(1ms);
        }
    }
};

TEST(idempotent_publish, a_retried_batch_is_acknowledged_without_a_second_append) {
    engine_options o;
    o.workers = 1;
    o.pin_workers = false;
    engine e(o);
    e.start();
    topic_config c;
    c.name = "idem";
    c.partitions = 2;
    ASSERT_TRUE(e.create_topic(c));
    auto t = *e.find_topic("idem");
    const event_in events[] = {event_in::without_key("a"), event_in::without_key("b")};
    publish_options po;
    po.partition = 1;
    po.producer_id = 42;
    po.first_sequence = 0;
    outcomes out;
    ASSERT_TRUE(e.publish(t, events, po, out.completion()));
    ASSERT_TRUE(e.publish(t, events, po, out.completion()));  // the retry
    po.first_sequence = 2;
    ASSERT_TRUE(e.publish(t, events, po, out.completion()));  // the next batch
    po.first_sequence = 9;
    ASSERT_TRUE(e.publish(t, events, po, out.completion()));  // a gap: refused
    ASSERT_TRUE(out.wait_for(4));
    EXPECT_EQ(out.got[0].code, errc::ok);
    EXPECT_FALSE(out.got[0].duplicate);
    EXPECT_EQ(out.got[0].base_offset, 0u);
    EXPECT_EQ(out.got[1].code, errc::ok);
    EXPECT_TRUE(out.got[1].duplicate);
    EXPECT_TRUE(out.got[1].known_offset);
    EXPECT_EQ(out.got[1].base_offset, 0u);
    EXPECT_EQ(out.got[2].base_offset, 2u);
    EXPECT_FALSE(out.got[2].duplicate);
    EXPECT_EQ(out.got[3].code, errc::invalid_argument);
    EXPECT_EQ(e.describe_topic("idem")->partitions[1].end_offset, 4u);  // a, b, a, b once

    // The producer's numbers are per partition.
    po.partition = 0;
    po.first_sequence = 0;
    outcomes other;
    ASSERT_TRUE(e.publish(t, events, po, other.completion()));
    ASSERT_TRUE(other.wait_for(1));
    EXPECT_FALSE(other.got[0].duplicate);

    publish_options unrouted;
    unrouted.producer_id = 42;
    auto r = e.publish(t, events, unrouted);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
}

}  // namespace
}  // namespace es::core
