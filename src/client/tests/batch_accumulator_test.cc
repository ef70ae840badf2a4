// Batching by size and linger, per-partition order through retries, idempotent sequence
// numbers, and the retry decision with its backoff, on a hand-moved clock.
#include "client/batch_accumulator.h"

#include <gtest/gtest.h>

#include <deque>

#include "protocol/codec.h"

namespace es::client {
namespace {

constexpr int64_t ms = 1'000'000;

// add() views an event's bytes only while it runs; the tests' payloads live here meanwhile.
pending_event ev(std::string value, size_t bytes = 64) {
    static std::deque<std::string> kept;
    kept.push_back(std::move(value));
    pending_event p;
    p.ev.value = kept.back();
    p.bytes = bytes;
    return p;
}

// The payloads of a batch's events, read back from its records through a whole PUBLISH.
std::vector<std::string> values(const batch& b) {
    protocol::publish_head head;
    head.topic = b.topic;
    std::string frame;
    protocol::encode_publish(frame, 1, head, uint32_t(b.size()), b.records);
    auto decoded =
        protocol::decode_publish(std::string_view(frame).substr(protocol::frame_header_bytes));
    EXPECT_TRUE(decoded.has_value());
    std::vector<std::string> out;
    if (decoded) {
        for (const auto& e : decoded->events) out.emplace_back(e.payload);
    }
    return out;
}

batching_limits limits(uint32_t events, size_t bytes, int64_t linger_ns, uint32_t in_flight = 1) {
    return batching_limits{events, bytes, linger_ns, in_flight};
}

TEST(batch_accumulator, holds_events_until_the_linger_passes) {
    batch_accumulator acc(limits(100, 1 << 20, 5 * ms));
    acc.add("t", 0, ev("a"), 0);
    acc.add("t", 0, ev("b"), 1 * ms);
    EXPECT_TRUE(acc.take_ready(4 * ms, false).empty());
    EXPECT_EQ(acc.next_wake_ns(), 5 * ms);
    auto ready = acc.take_ready(5 * ms, false);
    ASSERT_EQ(ready.size(), 1u);
    EXPECT_EQ(ready[0].size(), 2u);
    EXPECT_EQ(values(ready[0]).at(0), "a");
    EXPECT_EQ(ready[0].attempts, 1u);
    EXPECT_FALSE(acc.empty());
    acc.finished("t", 0);
    EXPECT_TRUE(acc.empty());
}

// While a partition's batches are all out, its lingered open batch stays open and keeps
// gathering events (Kafka's "ready" rule): one larger batch follows, not a queue of small ones,
// and the sender is not woken for a batch it could not send anyway.
TEST(batch_accumulator, a_lingered_batch_waits_open_while_the_partition_is_busy) {
    batch_accumulator acc(limits(100, 1 << 20, 1 * ms, 1));
    acc.add("t", 0, ev("a"), 0);
    auto first = acc.take_ready(1 * ms, false);
    ASSERT_EQ(first.size(), 1u);  // "a" is out; the partition has no room for another
    for (int i = 0; i < 5; ++i) acc.add("t", 0, ev(std::to_string(i)), 2 * ms);
    EXPECT_TRUE(acc.take_ready(10 * ms, false).empty());
    EXPECT_EQ(acc.next_wake_ns(), std::nullopt);
    acc.add("t", 0, ev("5"), 11 * ms);  // joins the same open batch
    acc.finished("t", 0);
    EXPECT_EQ(acc.next_wake_ns(), 3 * ms);  // its linger is long past: send it now
    auto second = acc.take_ready(11 * ms, false);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(values(second[0]), (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}));
    EXPECT_EQ(second[0].first_sequence, 1u);
}

// send_when_idle: an idle partition sends at once; while a batch is out the next one gathers
// events until the ack (or its linger), so it grows with the round trip.
TEST(batch_accumulator, send_when_idle_sends_at_once_then_lingers_while_a_batch_is_out) {
    batching_limits l = limits(100, 1 << 20, 5 * ms, 2);
    l.send_when_idle = true;
    batch_accumulator acc(l);
    acc.add("t", 0, ev("a"), 1 * ms);
    EXPECT_EQ(acc.next_wake_ns(), 1 * ms);
    auto first = acc.take_ready(1 * ms, false);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(values(first[0]), (std::vector<std::string>{"a"}));
    // "a" is out: "b" and "c" wait, although the partition could have a second batch out.
    acc.add("t", 0, ev("b"), 2 * ms);
    acc.add("t", 0, ev("c"), 3 * ms);
    EXPECT_TRUE(acc.take_ready(3 * ms, false).empty());
    EXPECT_EQ(acc.next_wake_ns(), 7 * ms);  // the linger, from "b"
    // The ack comes before the linger ends: they go at once, together.
    acc.finished("t", 0);
    EXPECT_EQ(acc.next_wake_ns(), 2 * ms);
    auto second = acc.take_ready(4 * ms, false);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(values(second[0]), (std::vector<std::string>{"b", "c"}));
    // With one batch out, the linger still sends a second one.
    acc.add("t", 0, ev("d"), 5 * ms);
    EXPECT_TRUE(acc.take_ready(9 * ms, false).empty());
    auto third = acc.take_ready(10 * ms, false);
    ASSERT_EQ(third.size(), 1u);
    EXPECT_EQ(values(third[0]), (std::vector<std::string>{"d"}));
}

// The producer wakes its sender only when add() says the schedule changed.
TEST(batch_accumulator, add_tells_when_a_batch_opens_or_is_sealed) {
    batch_accumulator acc(limits(3, 1 << 20, 1000 * ms, 4));
    EXPECT_TRUE(acc.add("t", 0, ev("a"), 0));   // opens a batch: a linger starts
    EXPECT_FALSE(acc.add("t", 0, ev("b"), 0));  // joins it
    EXPECT_TRUE(acc.add("t", 0, ev("c"), 0));   // fills and seals it
    EXPECT_TRUE(acc.add("t", 1, ev("d"), 0));   // another partition opens its own
    EXPECT_FALSE(acc.add("t", 1, ev("e"), 0));
}

// The clock is read when a batch opens, not for every event.
int64_t clock_reads = 0;
int64_t counting_clock() noexcept {
    ++clock_reads;
    return 7 * ms;
}

TEST(batch_accumulator, reads_the_clock_only_to_open_a_batch) {
    batch_accumulator acc(limits(100, 1 << 20, 5 * ms));
    clock_reads = 0;
    for (int i = 0; i < 10; ++i) {
        acc.add(acc.topic("t"), 0, ev(std::to_string(i)),
                batch_accumulator::clock_fn{&counting_clock});
    }
    EXPECT_EQ(clock_reads, 1);
    EXPECT_EQ(acc.next_wake_ns(), 12 * ms);  // opened at 7 ms, lingers 5 ms
}

TEST(batch_accumulator, seals_a_batch_at_the_event_cap_without_waiting) {
    batch_accumulator acc(limits(3, 1 << 20, 1000 * ms, 4));
    for (int i = 0; i < 7; ++i) acc.add("t", 0, ev(std::to_string(i)), 0);
    auto ready = acc.take_ready(0, false);
    ASSERT_EQ(ready.size(), 2u);  // two full batches; the seventh event lingers
    EXPECT_EQ(ready[0].size(), 3u);
    EXPECT_EQ(ready[1].size(), 3u);
    EXPECT_EQ(values(ready[1]).at(0), "3");
}

TEST(batch_accumulator, a_finished_batchs_buffers_serve_the_next_batch) {
    batch_accumulator acc(limits(2, 1 << 20, 1000 * ms, 4));
    acc.add("t", 0, ev("a"), 0);
    acc.add("t", 0, ev("b"), 0);
    auto ready = acc.take_ready(0, false);
    ASSERT_EQ(ready.size(), 1u);
    std::string records = std::move(ready[0].records);
    records.reserve(64 * 1024);
    const char* storage = records.data();
    std::vector<delivery_callback> done = std::move(ready[0].done);
    done.clear();
    done.reserve(100);
    const auto* callbacks = done.data();
    acc.finished("t", 0);
    acc.recycle(std::move(records), std::move(done));
    // The next batch writes its records into the recycled buffers, emptied first.
    acc.add("t", 0, ev("c"), 0);
    acc.add("t", 0, ev("d"), 0);
    ready = acc.take_ready(0, false);
    ASSERT_EQ(ready.size(), 1u);
    EXPECT_EQ(ready[0].records.data(), storage);
    EXPECT_EQ(ready[0].done.data(), callbacks);
    EXPECT_EQ(values(ready[0]), (std::vector<std::string>{"c", "d"}));
}

TEST(batch_accumulator, seals_before_an_event_that_would_cross_the_byte_cap) {
    batch_accumulator acc(limits(1000, 200, 1000 * ms, 4));
    acc.add("t", 0, ev("a", 80), 0);
    acc.add("t", 0, ev("b", 80), 0);
    acc.add("t", 0, ev("c", 80), 0);  // 240 > 200: a and b go first
    auto ready = acc.take_ready(0, false);
    ASSERT_EQ(ready.size(), 1u);
    EXPECT_EQ(ready[0].bytes, 160u);
    ready = acc.take_ready(0, true);  // flush
    ASSERT_EQ(ready.size(), 1u);
    EXPECT_EQ(values(ready[0]).at(0), "c");
}

TEST(batch_accumulator, partitions_batch_apart) {
    batch_accumulator acc(limits(100, 1 << 20, 1 * ms));
    acc.add("t", 0, ev("a"), 0);
    acc.add("t", 1, ev("b"), 0);
    acc.add("u", 0, ev("c"), 0);
    auto ready = acc.take_ready(1 * ms, false);
    ASSERT_EQ(ready.size(), 3u);
    for (const auto& b : ready) EXPECT_EQ(b.size(), 1u);
}

TEST(batch_accumulator, one_batch_in_flight_per_partition_keeps_order) {
    batch_accumulator acc(limits(1, 1 << 20, 0));
    acc.add("t", 0, ev("a"), 0);
    acc.add("t", 0, ev("b"), 0);
    auto first = acc.take_ready(0, false);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(values(first[0]).at(0), "a");
    EXPECT_TRUE(acc.take_ready(0, false).empty());  // b waits for a
    // a fails and is retried at 10 ms: b still waits behind it.
    acc.retry(std::move(first[0]), 10 * ms);
    EXPECT_TRUE(acc.take_ready(5 * ms, false).empty());
    EXPECT_EQ(acc.next_wake_ns(), 10 * ms);
    auto again = acc.take_ready(10 * ms, false);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(values(again[0]).at(0), "a");
    EXPECT_EQ(again[0].attempts, 2u);
    EXPECT_EQ(again[0].first_sent_ns, 0);
    acc.finished("t", 0);
    auto next = acc.take_ready(10 * ms, false);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(values(next[0]).at(0), "b");
}

// Several batches out fail in no set order (a lost connection fails them all at once); they
// go back in the order they were sealed, ahead of what was queued behind them.
TEST(batch_accumulator, batches_retried_out_of_order_go_again_in_order) {
    batch_accumulator acc(limits(1, 1 << 20, 0, 3));
    for (const char* v : {"a", "b", "c", "d"}) acc.add("t", 0, ev(v), 0);
    auto out = acc.take_ready(0, false);
    ASSERT_EQ(out.size(), 3u);  // a, b, c out; d queued
    acc.retry(std::move(out[2]), 1 * ms);
    acc.retry(std::move(out[0]), 1 * ms);
    acc.retry(std::move(out[1]), 1 * ms);
    auto again = acc.take_ready(1 * ms, false);
    ASSERT_EQ(again.size(), 3u);
    EXPECT_EQ(values(again[0]).at(0), "a");
    EXPECT_EQ(values(again[1]).at(0), "b");
    EXPECT_EQ(values(again[2]).at(0), "c");
    EXPECT_LT(again[0].first_sequence, again[1].first_sequence);
    EXPECT_LT(again[1].first_sequence, again[2].first_sequence);
    acc.finished("t", 0);
    auto last = acc.take_ready(1 * ms, false);
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(values(last[0]).at(0), "d");
}

TEST(batch_accumulator, sequences_number_each_partitions_events_and_survive_retries) {
    batch_accumulator acc(limits(2, 1 << 20, 0, 8));
    for (int i = 0; i < 5; ++i) acc.add("t", 0, ev("x"), 0);
    acc.add("t", 1, ev("y"), 0);
    auto ready = acc.take_ready(0, true);
    ASSERT_EQ(ready.size(), 4u);
    EXPECT_EQ(ready[0].first_sequence, 0u);
    EXPECT_EQ(ready[1].first_sequence, 2u);
    EXPECT_EQ(ready[2].first_sequence, 4u);
    EXPECT_EQ(ready[3].partition, 1u);
    EXPECT_EQ(ready[3].first_sequence, 0u);
    acc.retry(std::move(ready[1]), 0);
    auto again = acc.take_ready(0, false);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].first_sequence, 2u);
}

TEST(batch_accumulator, seal_count_moves_keyless_events_on) {
    batch_accumulator acc(limits(2, 1 << 20, 1000 * ms));
    EXPECT_EQ(acc.seals("t", 0), 0u);
    acc.add("t", 0, ev("a"), 0);
    EXPECT_EQ(acc.seals("t", 0), 0u);
    acc.add("t", 0, ev("b"), 0);
    EXPECT_EQ(acc.seals("t", 0), 1u);
}

TEST(batch_accumulator, drain_hands_out_everything_not_in_flight) {
    batch_accumulator acc(limits(1, 1 << 20, 1000 * ms));
    acc.add("t", 0, ev("a"), 0);
    acc.add("t", 0, ev("b"), 0);
    auto sent = acc.take_ready(0, false);
    ASSERT_EQ(sent.size(), 1u);
    auto left = acc.drain();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(values(left[0]).at(0), "b");
    EXPECT_FALSE(acc.empty());  // a is in flight
    acc.finished("t", 0);
    EXPECT_TRUE(acc.empty());
}

TEST(retry, backoff_doubles_up_to_the_cap) {
    retry_policy p{10 * ms, 100 * ms, 1000 * ms};
    EXPECT_EQ(retry_backoff_ns(p, 1), 10 * ms);
    EXPECT_EQ(retry_backoff_ns(p, 2), 20 * ms);
    EXPECT_EQ(retry_backoff_ns(p, 3), 40 * ms);
    EXPECT_EQ(retry_backoff_ns(p, 4), 80 * ms);
    EXPECT_EQ(retry_backoff_ns(p, 5), 100 * ms);
    EXPECT_EQ(retry_backoff_ns(p, 60), 100 * ms);
}

TEST(retry, only_retryable_errors_are_retried) {
    using eventstream::error;
    using eventstream::error_code;
    retry_policy p{10 * ms, 100 * ms, 1000 * ms};
    for (auto c : {error_code::queue_full, error_code::timed_out, error_code::shutting_down,
                   error_code::connection_lost}) {
        auto d = decide_retry(p, error{c, ""}, 1, 0, 5 * ms);
        EXPECT_TRUE(d.retry) << eventstream::error_code_name(c);
        EXPECT_EQ(d.at_ns, 15 * ms);
    }
    for (auto c : {error_code::invalid_argument, error_code::not_found, error_code::too_large,
                   error_code::closed, error_code::protocol_error}) {
        EXPECT_FALSE(decide_retry(p, error{c, ""}, 1, 0, 5 * ms).retry)
            << eventstream::error_code_name(c);
    }
}

TEST(retry, stops_at_the_delivery_timeout) {
    using eventstream::error;
    using eventstream::error_code;
    retry_policy p{10 * ms, 100 * ms, 1000 * ms};
    EXPECT_TRUE(decide_retry(p, error{error_code::queue_full, ""}, 5, 0, 899 * ms).retry);
    EXPECT_FALSE(decide_retry(p, error{error_code::queue_full, ""}, 5, 0, 900 * ms).retry);
}

}  // namespace
}  // namespace es::client
