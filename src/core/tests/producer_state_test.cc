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
    // A different split of old numbers is still a duplicate, its offset known from the kept
    // batch that holds it.
    auto part = t.check(7, 101, 1);
    EXPECT_EQ(part.what, producer_table::verdict::duplicate);
    ASSERT_TRUE(part.known_offset);
    EXPECT_EQ(part.base_offset, 41u);
    // One that reaches past the next number: a duplicate up to it, which the caller appends
    // from there on; its head's offset is known too.
    auto straddle = t.check(7, 102, 3);
    EXPECT_EQ(straddle.what, producer_table::verdict::duplicate);
    EXPECT_EQ(straddle.expected_sequence, 103u);
    ASSERT_TRUE(straddle.known_offset);
    EXPECT_EQ(straddle.base_offset, 42u);
    // Not when no one kept batch holds all of its old numbers.
    t.appended(7, 103, 2, 50, 2);
    EXPECT_FALSE(t.check(7, 102, 2).known_offset);
    EXPECT_TRUE(t.check(7, 103, 2).known_offset);
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

// An engine of one worker with one topic.
struct one_topic_engine {
    engine e{options()};
    topic_ptr t;

    one_topic_engine(const std::string& name, uint32_t partitions) {
        e.start();
        topic_config c;
        c.name = name;
        c.partitions = partitions;
        EXPECT_TRUE(e.create_topic(c));
        t = *e.find_topic(name);
    }
    static engine_options options() {
        engine_options o;
        o.workers = 1;
        o.pin_workers = false;
        return o;
    }
};

TEST(idempotent_publish, a_retried_batch_is_acknowledged_without_a_second_append) {
    one_topic_engine x("idem", 2);
    engine& e = x.e;
    const topic_ptr& t = x.t;
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

TEST(idempotent_publish, a_retry_straddling_the_next_number_appends_its_new_tail) {
    // A retry cut into batches differently from its first send (a node with a smaller ingest
    // queue, after a failover): its batch starts among numbers appended before and ends past
    // them. The head is a duplicate; the tail is new and must not be lost with it.
    // The same whether the events are copied into the queue or borrowed.
    for (const bool borrowed : {false, true}) {
        SCOPED_TRACE(borrowed ? "borrowed" : "copied");
        // Lent (large enough to be lent): declared before the engine, to outlive it.
        std::vector<std::string> values;
        for (int i = 0; i < 8; ++i) {
            values.push_back("e" + std::to_string(i) + std::string(70, '.'));
        }
        std::vector<event_in> events;
        for (const auto& v : values) events.push_back(event_in::without_key(v));
        one_topic_engine x("straddle", 1);
        engine& e = x.e;
        const topic_ptr& t = x.t;
        publish_options po;
        po.borrowed = borrowed;
        po.partition = 0;
        po.producer_id = 42;
        po.first_sequence = 0;
        outcomes out;
        // First send: e0..e4 (numbers 0..4) got in.
        ASSERT_TRUE(e.publish(t, std::span(events).first(5), po, out.completion()));
        // The retry's batch: e2..e7 (numbers 2..7).
        po.first_sequence = 2;
        ASSERT_TRUE(e.publish(t, std::span(events).subspan(2), po, out.completion()));
        ASSERT_TRUE(out.wait_for(2));
        const publish_outcome& r = out.got[1];
        EXPECT_EQ(r.code, errc::ok);
        EXPECT_FALSE(r.duplicate);
        EXPECT_EQ(r.count, 6u);
        EXPECT_EQ(r.duplicate_head, 3u);  // e2, e3, e4
        ASSERT_TRUE(r.head_known_offset);
        EXPECT_EQ(r.head_base_offset, 2u);
        EXPECT_EQ(r.base_offset, 5u);  // e5, e6, e7
        EXPECT_EQ(e.describe_topic("straddle")->partitions[0].end_offset, 8u);
        auto f = std::make_shared<feed>(1);
        auto id = e.subscribe(t, {}, start_position::earliest(), f);
        ASSERT_TRUE(id);
        std::vector<std::pair<uint64_t, std::string>> got;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (got.size() < 8 && std::chrono::steady_clock::now() < deadline) {
            f->poll([&](const event_view& v, uint32_t) { got.emplace_back(v.offset, v.payload); },
                    [](uint32_t, uint64_t, uint64_t) {});
            std::this_thread::sleep_for(1ms);
        }
        ASSERT_EQ(got.size(), 8u);
        for (uint64_t i = 0; i < 8; ++i) {
            EXPECT_EQ(got[i].first, i);
            EXPECT_EQ(got[i].second, values[i]);
        }
        // The producer goes on from number 8.
        po.first_sequence = 8;
        const event_in next[] = {event_in::without_key("e8")};
        ASSERT_TRUE(e.publish(t, next, po, out.completion()));
        ASSERT_TRUE(out.wait_for(3));
        EXPECT_EQ(out.got[2].code, errc::ok);
        EXPECT_EQ(out.got[2].base_offset, 8u);
        EXPECT_TRUE(e.unsubscribe(*id));
    }
}

}  // namespace
}  // namespace es::core
