// The engine end to end on real worker threads: publish, route, append, deliver; ordering,
// gaps for slow subscribers, back-pressure, deletion and shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/feed.h"

namespace es::core {
namespace {

using namespace std::chrono_literals;

engine_options test_options(uint32_t workers = 2) {
    engine_options o;
    o.workers = workers;
    o.pin_workers = false;  // tests share the machine with each other
    return o;
}

topic_config topic_named(std::string name, uint32_t partitions = 1) {
    topic_config c;
    c.name = std::move(name);
    c.partitions = partitions;
    return c;
}

// Polls until `pred` holds or 10 s pass (a hang is a failure, not a slow pass).
template <class Pred>
bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

struct received {
    std::vector<std::pair<uint32_t, event_view>> events;  // views invalid after poll; copy below
    std::map<uint32_t, std::vector<std::pair<uint64_t, std::string>>> by_partition;
    std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> gaps;
    size_t count = 0;
};

size_t drain(feed& f, received& r) {
    return f.poll(
        [&](const event_view& e, uint32_t p) {
            r.by_partition[p].emplace_back(e.offset, std::string(e.payload));
            ++r.count;
        },
        [&](uint32_t p, uint64_t first, uint64_t last) { r.gaps.emplace_back(p, first, last); });
}

bool drain_until(feed& f, received& r, size_t count) {
    return eventually([&] {
        drain(f, r);
        return r.count >= count;
    });
}

TEST(engine, topic_admin_round_trip) {
    engine e(test_options());
    e.start();
    auto created = e.create_topic(topic_named("orders", 4));
    ASSERT_TRUE(created);
    EXPECT_EQ(created->partitions.size(), 4u);
    std::set<uint32_t> workers;
    for (const auto& p : created->partitions) workers.insert(p.worker);
    EXPECT_EQ(workers.size(), 2u);  // spread over both workers

    EXPECT_EQ(e.create_topic(topic_named("orders")).err().code, errc::already_exists);
    EXPECT_EQ(e.create_topic(topic_named("bad/name")).err().code, errc::invalid_argument);
    auto durable = topic_named("d");
    durable.storage = storage_mode::durable;
    EXPECT_EQ(e.create_topic(durable).err().code, errc::not_supported);

    ASSERT_TRUE(e.create_topic(topic_named("audit")));
    auto list = e.list_topics();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].config.name, "audit");
    EXPECT_EQ(e.describe_topic("orders")->config.partitions, 4u);
    EXPECT_EQ(e.describe_topic("nope").err().code, errc::not_found);

    ASSERT_TRUE(e.delete_topic("orders"));
    EXPECT_EQ(e.delete_topic("orders").err().code, errc::not_found);
    EXPECT_EQ(e.list_topics().size(), 1u);
}

TEST(engine, publish_then_subscribe_from_earliest_latest_offset_and_time) {
    manual_clock clock(1'000);
    auto o = test_options(1);
    o.clock = &clock;
    engine e(o);
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("t")));
    auto t = *e.find_topic("t");
    const event_in first[] = {event_in::without_key("e0"), event_in::without_key("e1")};
    ASSERT_TRUE(e.publish(t, first));
    ASSERT_TRUE(eventually([&] { return e.describe_topic("t")->partitions[0].end_offset == 2; }));
    clock.set_ns(5'000);
    const event_in second[] = {event_in::without_key("e2"), event_in::without_key("e3")};
    ASSERT_TRUE(e.publish(t, second));
    ASSERT_TRUE(eventually([&] { return e.describe_topic("t")->partitions[0].end_offset == 4; }));

    auto collect = [&](start_position start, size_t want) {
        auto f = std::make_shared<feed>(1);
        auto id = e.subscribe(t, {}, start, f);
        EXPECT_TRUE(id);
        received r;
        drain_until(*f, r, want);
        std::vector<std::string> got;
        for (auto& [offset, payload] : r.by_partition[0]) got.push_back(payload);
        EXPECT_TRUE(e.unsubscribe(*id));
        return got;
    };
    EXPECT_EQ(collect(start_position::earliest(), 4),
              (std::vector<std::string>{"e0", "e1", "e2", "e3"}));
    EXPECT_EQ(collect(start_position::at_offset(1), 3),
              (std::vector<std::string>{"e1", "e2", "e3"}));
    EXPECT_EQ(collect(start_position::at_time(5'000), 2), (std::vector<std::string>{"e2", "e3"}));

    // latest: only what comes after subscribing.
    auto f = std::make_shared<feed>(1);
    auto id = e.subscribe(t, {}, start_position::latest(), f);
    ASSERT_TRUE(id);
    const event_in third[] = {event_in::without_key("e4")};
    ASSERT_TRUE(e.publish(t, third));
    received r;
    ASSERT_TRUE(drain_until(*f, r, 1));
    ASSERT_EQ(r.by_partition[0].size(), 1u);
    EXPECT_EQ(r.by_partition[0][0], (std::pair<uint64_t, std::string>{4, "e4"}));
    EXPECT_EQ(e.unsubscribe(*id + 100).err().code, errc::not_found);
}

TEST(engine, completion_reports_partition_and_offsets) {
    engine e(test_options(1));
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("t", 3)));
    auto t = *e.find_topic("t");
    struct sink {
        std::mutex m;
        std::vector<publish_outcome> outcomes;
    } s;
    publish_completion done{[](void* ctx, const publish_outcome& o) {
                                auto* s = static_cast<sink*>(ctx);
                                std::lock_guard l(s->m);
                                s->outcomes.push_back(o);
                            },
                            &s};
    const event_in events[] = {event_in::without_key("a"), event_in::without_key("b")};
    publish_options to_two;
    to_two.partition = 2;
    auto r = e.publish(t, events, to_two, done);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->events_queued, 2u);
    ASSERT_TRUE(e.publish(t, events, to_two, done));
    ASSERT_TRUE(eventually([&] {
        std::lock_guard l(s.m);
        return s.outcomes.size() == 2;
    }));
    EXPECT_EQ(s.outcomes[0].code, errc::ok);
    EXPECT_EQ(s.outcomes[0].partition, 2u);
    EXPECT_EQ(s.outcomes[0].base_offset, 0u);
    EXPECT_EQ(s.outcomes[0].count, 2u);
    EXPECT_EQ(s.outcomes[1].base_offset, 2u);

    publish_options bad;
    bad.partition = 3;
    EXPECT_EQ(e.publish(t, events, bad).err().code, errc::not_found);
    EXPECT_EQ(e.publish(t, {}).err().code, errc::invalid_argument);
}

TEST(engine, keyed_events_stick_to_one_partition_in_order_across_producers) {
    engine e(test_options(2));
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("t", 8)));
    auto t = *e.find_topic("t");
    auto f = std::make_shared<feed>(8);
    ASSERT_TRUE(e.subscribe(t, {}, start_position::earliest(), f));

    constexpr int producers = 4;
    constexpr int per_producer = 5000;
    std::vector<std::thread> threads;
    for (int pr = 0; pr < producers; ++pr) {
        threads.emplace_back([&, pr] {
            const std::string key = "producer-" + std::to_string(pr);
            for (int i = 0; i < per_producer; i += 10) {
                std::vector<std::string> payloads;
                std::vector<event_in> batch;
                for (int j = i; j < i + 10; ++j) payloads.push_back(key + ":" + std::to_string(j));
                for (auto& p : payloads) batch.push_back(event_in::with_key(key, p));
                publish_options o;
                o.on_full = backpressure::block;
                ASSERT_TRUE(e.publish(t, batch, o));
            }
        });
    }
    for (auto& th : threads) th.join();
    received r;
    ASSERT_TRUE(drain_until(*f, r, producers * per_producer));
    EXPECT_EQ(r.count, static_cast<size_t>(producers * per_producer));
    EXPECT_TRUE(r.gaps.empty());

    // Each key's events sit in one partition, in the order they were published, and offsets
    // within each partition are dense.
    std::map<std::string, uint32_t> partition_of_key;
    std::map<std::string, int> next_of_key;
    for (auto& [partition, events] : r.by_partition) {
        for (size_t i = 0; i < events.size(); ++i) {
            ASSERT_EQ(events[i].first, i);
            const auto& payload = events[i].second;
            const std::string key = payload.substr(0, payload.find(':'));
            const int seq = std::stoi(payload.substr(payload.find(':') + 1));
            auto [it, fresh] = partition_of_key.emplace(key, partition);
            EXPECT_EQ(it->second, partition) << key << " moved partition";
            EXPECT_EQ(seq, next_of_key[key]++) << key << " out of order";
        }
    }
    EXPECT_EQ(partition_of_key.size(), static_cast<size_t>(producers));
}

TEST(engine, unkeyed_publishes_round_robin_one_partition_per_call) {
    engine e(test_options(1));
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("t", 3)));
    auto t = *e.find_topic("t");
    const event_in two[] = {event_in::without_key("x"), event_in::without_key("y")};
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(e.publish(t, two, {}));
    ASSERT_TRUE(eventually([&] {
        uint64_t total = 0;
        const auto info = *e.describe_topic("t");
        for (auto& p : info.partitions) total += p.end_offset;
        return total == 12;
    }));
    const auto info = *e.describe_topic("t");
    for (auto& p : info.partitions) EXPECT_EQ(p.end_offset, 4u);
}

TEST(engine, slow_subscriber_gets_a_gap_naming_what_it_missed) {
    engine e(test_options(1));
    e.start();
    auto c = topic_named("t");
    c.retention_bytes = 64 * 1024;
    c.max_event_bytes = 2048;
    ASSERT_TRUE(e.create_topic(c));
    auto t = *e.find_topic("t");
    feed_options fo;
    fo.max_buffered_events = 10;  // the subscriber takes 10 events, then stops polling
    auto f = std::make_shared<feed>(1, fo);
    ASSERT_TRUE(e.subscribe(t, {}, start_position::earliest(), f));

    const std::string payload_prefix(1000, 'p');
    constexpr uint64_t total = 1000;
    for (uint64_t i = 0; i < total; ++i) {
        const std::string p = payload_prefix + std::to_string(i);
        const event_in one[] = {event_in::without_key(p)};
        publish_options o;
        o.on_full = backpressure::block;
        ASSERT_TRUE(e.publish(t, one, o));
    }
    ASSERT_TRUE(
        eventually([&] { return e.describe_topic("t")->partitions[0].end_offset == total; }));
    const uint64_t start = e.describe_topic("t")->partitions[0].start_offset;
    ASSERT_GT(start, 10u);  // retention has dropped what the subscriber has not read
    EXPECT_LE(f->buffered_events_approx(), 10u);  // and the node buffered no more than credit

    // Every offset is either delivered once or named in a gap, in offset order, and the
    // events after the last gap run to the end. (How many gaps there are depends on timing: a
    // subscriber with credit left can fall behind within one pass of the worker.)
    received r;
    ASSERT_TRUE(eventually([&] {
        drain(*f, r);
        const auto& ev = r.by_partition[0];
        return !ev.empty() && ev.back().first == total - 1;
    }));
    ASSERT_FALSE(r.gaps.empty());
    EXPECT_EQ(std::get<2>(r.gaps.back()), start - 1);
    uint64_t next = 0;
    size_t gap = 0;
    for (const auto& [offset, payload] : r.by_partition[0]) {
        while (gap < r.gaps.size() && std::get<1>(r.gaps[gap]) == next) {
            next = std::get<2>(r.gaps[gap]) + 1;
            ++gap;
        }
        ASSERT_EQ(offset, next) << "offset neither delivered nor named in a gap";
        EXPECT_EQ(payload, payload_prefix + std::to_string(offset));
        ++next;
    }
    EXPECT_EQ(gap, r.gaps.size());
    EXPECT_EQ(next, total);
    EXPECT_GE(r.by_partition[0].size(), 10u);  // what it had credit for before retention hit
}

TEST(engine, an_event_larger_than_the_feed_buffer_is_still_delivered) {
    engine e(test_options(1));
    e.start();
    auto c = topic_named("t");
    c.max_event_bytes = 200 * 1024;
    ASSERT_TRUE(e.create_topic(c));
    auto t = *e.find_topic("t");
    feed_options fo;
    fo.max_buffered_bytes = 4096;  // far below the event
    auto f = std::make_shared<feed>(1, fo);
    ASSERT_TRUE(e.subscribe(t, {}, start_position::earliest(), f));
    const std::string big(100 * 1024, 'b');
    const event_in events[] = {event_in::without_key(big), event_in::without_key("small")};
    ASSERT_TRUE(e.publish(t, events));
    received r;
    ASSERT_TRUE(drain_until(*f, r, 2));
    EXPECT_EQ(r.by_partition[0][0].second, big);
    EXPECT_EQ(r.by_partition[0][1].second, "small");
}

TEST(engine, admin_calls_after_stop_do_not_hang) {
    engine e(test_options(2));
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("t", 2)));
    e.stop();
    e.start();  // a stopped engine stays stopped
    ASSERT_TRUE(e.create_topic(topic_named("u", 2)));
    ASSERT_TRUE(e.delete_topic("t"));
    const event_in one[] = {event_in::without_key("x")};
    EXPECT_EQ(e.publish(*e.find_topic("u"), one).err().code, errc::shutting_down);
}

TEST(engine, full_queue_fails_or_blocks_as_asked_and_loses_nothing) {
    auto o = test_options(1);
    o.worker.ingest_queue_bytes = 4096;
    engine e(o);
    auto c = topic_named("t");
    c.max_event_bytes = 100;
    ASSERT_TRUE(e.create_topic(c));
    auto t = *e.find_topic("t");
    const event_in one[] = {event_in::without_key("x")};

    // Workers not started yet: the queue fills and stays full.
    uint64_t accepted = 0;
    for (int i = 0; i < 1000; ++i) {
        auto r = e.publish(t, one);
        if (!r) {
            EXPECT_EQ(r.err().code, errc::queue_full);
            EXPECT_TRUE(r.err().retryable());
            break;
        }
        ++accepted;
    }
    EXPECT_GT(accepted, 10u);
    EXPECT_LT(accepted, 1000u);
    auto full = e.publish(t, one);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.err().code, errc::queue_full);

    publish_options blocking;
    blocking.on_full = backpressure::block;
    blocking.block_timeout_ns = 20'000'000;
    auto timed = e.publish(t, one, blocking);
    ASSERT_FALSE(timed);
    EXPECT_EQ(timed.err().code, errc::timed_out);

    // A blocked publisher gets through once the worker drains.
    std::atomic<bool> done{false};
    std::thread blocked([&] {
        publish_options forever;
        forever.on_full = backpressure::block;
        EXPECT_TRUE(e.publish(t, one, forever));
        done = true;
    });
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(done.load());
    e.start();
    blocked.join();
    EXPECT_TRUE(done.load());
    ASSERT_TRUE(eventually(
        [&] { return e.describe_topic("t")->partitions[0].end_offset == accepted + 1; }));
}

TEST(engine, deleted_topic_refuses_publishes_and_ends_subscriptions) {
    engine e(test_options(1));
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("t")));
    auto t = *e.find_topic("t");
    auto f = std::make_shared<feed>(1);
    ASSERT_TRUE(e.subscribe(t, {}, start_position::earliest(), f));
    ASSERT_TRUE(e.delete_topic("t"));
    const event_in one[] = {event_in::without_key("x")};
    auto r = e.publish(t, one);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::not_found);
    EXPECT_EQ(e.subscribe(t, {}, start_position::earliest(), f).err().code, errc::not_found);
    // A topic of the same name starts from offset 0 again.
    ASSERT_TRUE(e.create_topic(topic_named("t")));
    EXPECT_EQ(e.describe_topic("t")->partitions[0].end_offset, 0u);
}

TEST(engine, batch_queued_before_a_delete_never_lands_in_a_new_topic) {
    engine e(test_options(1));  // not started: batches wait in the queue
    ASSERT_TRUE(e.create_topic(topic_named("old")));
    auto old_topic = *e.find_topic("old");
    struct outcomes {
        std::mutex m;
        std::vector<publish_outcome> all;
    } got;
    publish_completion done{[](void* ctx, const publish_outcome& o) {
                                auto* g = static_cast<outcomes*>(ctx);
                                std::lock_guard l(g->m);
                                g->all.push_back(o);
                            },
                            &got};
    const event_in one[] = {event_in::without_key("stale")};
    ASSERT_TRUE(e.publish(old_topic, one, {}, done));
    ASSERT_TRUE(e.delete_topic("old"));
    // The new topic reuses the worker slot the old one had.
    ASSERT_TRUE(e.create_topic(topic_named("new")));
    e.start();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard l(got.m);
        return got.all.size() == 1;
    }));
    EXPECT_EQ(got.all[0].code, errc::not_found);
    std::this_thread::sleep_for(5ms);
    EXPECT_EQ(e.describe_topic("new")->partitions[0].end_offset, 0u);
}

TEST(engine, stop_drains_every_queued_batch_then_refuses) {
    auto o = test_options(1);
    o.worker.ingest_queue_bytes = 8 << 20;
    engine e(o);
    ASSERT_TRUE(e.create_topic(topic_named("t")));
    auto t = *e.find_topic("t");
    std::atomic<uint64_t> completed{0};
    publish_completion done{[](void* ctx, const publish_outcome& out) {
                                static_cast<std::atomic<uint64_t>*>(ctx)->fetch_add(out.count);
                            },
                            &completed};
    const event_in one[] = {event_in::without_key("x")};
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(e.publish(t, one, {}, done));  // queued, not run
    e.start();
    e.stop();
    EXPECT_EQ(completed.load(), 1000u);
    EXPECT_EQ(e.describe_topic("t")->partitions[0].end_offset, 1000u);
    auto r = e.publish(t, one);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::shutting_down);
}

TEST(engine, oversized_event_refuses_the_whole_call) {
    engine e(test_options(1));
    e.start();
    auto c = topic_named("t");
    c.max_event_bytes = 100;
    ASSERT_TRUE(e.create_topic(c));
    auto t = *e.find_topic("t");
    const std::string big(101, 'x');
    const event_in events[] = {event_in::without_key("fine"), event_in::without_key(big)};
    auto r = e.publish(t, events);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::too_large);
    EXPECT_NE(r.err().message.find("event 1"), std::string::npos);
    std::this_thread::sleep_for(5ms);
    EXPECT_EQ(e.describe_topic("t")->partitions[0].end_offset, 0u);
}

TEST(engine, large_publish_is_split_into_batches_in_order) {
    auto o = test_options(1);
    o.dispatch.batch_bytes_max = 4096;
    engine e(o);
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("t")));
    auto t = *e.find_topic("t");
    auto f = std::make_shared<feed>(1);
    ASSERT_TRUE(e.subscribe(t, {}, start_position::earliest(), f));
    std::vector<std::string> payloads;
    for (int i = 0; i < 500; ++i) payloads.push_back(std::string(100, 'a') + std::to_string(i));
    std::vector<event_in> events;
    for (auto& p : payloads) events.push_back(event_in::without_key(p));
    auto r = e.publish(t, events);
    ASSERT_TRUE(r);
    EXPECT_GT(r->batches_queued, 1u);
    EXPECT_EQ(r->events_queued, 500u);
    received got;
    ASSERT_TRUE(drain_until(*f, got, 500));
    for (int i = 0; i < 500; ++i) EXPECT_EQ(got.by_partition[0][i].second, payloads[i]);
}

// Outcomes reported to a publish_completion, from the worker thread.
struct outcome_log {
    std::mutex mu;
    std::vector<publish_outcome> got;

    publish_completion completion() {
        return {[](void* self, const publish_outcome& o) {
                    auto* log = static_cast<outcome_log*>(self);
                    std::lock_guard lk(log->mu);
                    log->got.push_back(o);
                },
                this};
    }
    std::vector<publish_outcome> taken() {
        std::lock_guard lk(mu);
        return got;
    }
};

// Events of `bytes` each whose payloads say where they belong.
std::vector<std::string> payloads_named(const std::string& prefix, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
        out.push_back(prefix + std::to_string(100 + i) + std::string(40, '.'));
    return out;
}

std::vector<event_in> events_of(const std::vector<std::string>& payloads) {
    std::vector<event_in> out;
    for (const auto& p : payloads) out.push_back(event_in::without_key(p));
    return out;
}

TEST(engine, a_partitions_batches_are_queued_all_or_none_when_the_queue_is_full) {
    for (const bool idempotent : {false, true}) {
        SCOPED_TRACE(idempotent ? "idempotent" : "plain");
        auto o = test_options(1);
        o.worker.ingest_queue_bytes = 4096;  // a partition takes 3/4 of it in one publish
        o.dispatch.batch_bytes_max = 256;    // several batches per publish
        engine e(o);
        auto c = topic_named("t");
        c.max_event_bytes = 100;
        ASSERT_TRUE(e.create_topic(c));
        auto t = *e.find_topic("t");
        publish_options opts;
        opts.partition = 0;
        opts.producer_id = idempotent ? 7 : 0;

        // Workers not started: what is queued stays queued. The first publish fills about half
        // the queue; the second's first batches would fit, its last ones not.
        constexpr int n = 24;  // about 1.9 KiB of records each
        const auto first = payloads_named("a", n);
        const auto second = payloads_named("b", n);
        const auto first_events = events_of(first);
        const auto second_events = events_of(second);
        ASSERT_GT(encoded_size(first_events[0]) * n, 1800u);
        ASSERT_LT(encoded_size(first_events[0]) * n, 2400u);
        outcome_log log;
        auto queued = e.publish(t, first_events, opts, log.completion());
        ASSERT_TRUE(queued);
        EXPECT_GT(queued->batches_queued, 3u);
        EXPECT_EQ(queued->events_queued, uint32_t(n));

        opts.first_sequence = n;
        auto refused = e.publish(t, second_events, opts, log.completion());
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.err().code, errc::queue_full);
        EXPECT_TRUE(refused.err().retryable());

        // Nothing of the refused publish is appended; its retry is appended whole, and an
        // idempotent one is not taken for a duplicate.
        e.start();
        ASSERT_TRUE(eventually(
            [&] { return e.describe_topic("t")->partitions[0].end_offset == uint64_t(n); }));
        auto again = e.publish(t, second_events, opts, log.completion());
        ASSERT_TRUE(again);
        EXPECT_EQ(again->events_queued, uint32_t(n));
        ASSERT_TRUE(eventually(
            [&] { return e.describe_topic("t")->partitions[0].end_offset == uint64_t(2 * n); }));

        auto f = std::make_shared<feed>(1);
        ASSERT_TRUE(e.subscribe(t, {}, start_position::earliest(), f));
        received got;
        ASSERT_TRUE(drain_until(*f, got, 2 * n));
        ASSERT_EQ(got.by_partition[0].size(), size_t(2 * n));
        for (int i = 0; i < 2 * n; ++i) {
            EXPECT_EQ(got.by_partition[0][i].first, uint64_t(i));
            EXPECT_EQ(got.by_partition[0][i].second, i < n ? first[i] : second[i - n]);
        }
        // One outcome per batch queued, none a duplicate, together covering both publishes.
        ASSERT_TRUE(eventually([&] {
            return log.taken().size() == size_t(queued->batches_queued + again->batches_queued);
        }));
        uint64_t next = 0;
        for (const publish_outcome& out : log.taken()) {
            EXPECT_EQ(out.code, errc::ok);
            EXPECT_FALSE(out.duplicate);
            EXPECT_EQ(out.base_offset, next);
            next += out.count;
        }
        EXPECT_EQ(next, uint64_t(2 * n));
        e.stop();
    }
}

// A started engine of one worker with a small ingest queue, and its topic "t" of one partition.
struct small_queue_engine {
    engine e;
    topic_ptr t;

    small_queue_engine(uint64_t queue_bytes, size_t batch_bytes, uint32_t max_event_bytes)
        : e(options(queue_bytes, batch_bytes)) {
        e.start();
        auto c = topic_named("t");
        c.max_event_bytes = max_event_bytes;
        EXPECT_TRUE(e.create_topic(c));
        t = *e.find_topic("t");
    }
    static engine_options options(uint64_t queue_bytes, size_t batch_bytes) {
        auto o = test_options(1);
        o.worker.ingest_queue_bytes = queue_bytes;
        o.dispatch.batch_bytes_max = batch_bytes;
        return o;
    }
};

TEST(engine, a_publish_too_large_for_the_ingest_queue_in_one_go_is_refused_as_too_large) {
    // Lent below: declared before the engine, to outlive its workers.
    const std::vector<std::string> larger(30, std::string(90, 'l'));
    small_queue_engine x(4096, 256, 100);
    engine& e = x.e;
    const topic_ptr& t = x.t;
    const auto payloads = payloads_named("x", 48);  // about 3.8 KiB: more than fits at once
    auto r = e.publish(t, events_of(payloads));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::too_large);
    EXPECT_FALSE(r.err().retryable());
    EXPECT_NE(r.err().message.find("ingest_queue_bytes"), std::string::npos) << r.err().message;
    // 30 events of 90 bytes: their records (128 bytes each, two per batch) do not fit at once,
    // their views (64 bytes each) would. Refused lent as copied, so that the verdict does not
    // depend on whether a publisher lends a call or copies its retry.
    publish_options lent;
    lent.borrowed = true;
    outcome_log none;
    for (const bool lend : {false, true}) {
        auto l = e.publish(t, events_of(larger), lend ? lent : publish_options{},
                           lend ? none.completion() : publish_completion{});
        ASSERT_FALSE(l) << lend;
        EXPECT_EQ(l.err().code, errc::too_large) << lend;
    }
    // Blocking publishers take it batch by batch.
    publish_options blocking;
    blocking.on_full = backpressure::block;
    auto b = e.publish(t, events_of(payloads), blocking);
    ASSERT_TRUE(b) << b.err().message;
    EXPECT_EQ(b->events_queued, 48u);
    ASSERT_TRUE(eventually([&] { return e.describe_topic("t")->partitions[0].end_offset == 48; }));
}

// Every field of each event of the topic, one string per event, in order of partition and offset
// (as strings).
std::vector<std::string> stored_events(engine& e, const topic_ptr& t, size_t count) {
    auto f = std::make_shared<feed>(static_cast<uint32_t>(t->partitions.size()));
    auto id = e.subscribe(t, {}, start_position::earliest(), f);
    EXPECT_TRUE(id);
    std::vector<std::string> got;
    EXPECT_TRUE(eventually([&] {
        f->poll(
            [&](const event_view& v, uint32_t p) {
                std::string s = std::to_string(p) + "@" + std::to_string(v.offset) +
                                " ts=" + std::to_string(v.timestamp_ns) +
                                " key=" + (v.has_key ? "[" + std::string(v.key) + "]" : "none") +
                                " payload=[" + std::string(v.payload) + "] headers=";
                for (const header_in h : v.headers) {
                    s += std::string(h.name) + ":" + std::string(h.value) + ";";
                }
                got.push_back(std::move(s));
            },
            [](uint32_t, uint64_t, uint64_t) {});
        return got.size() >= count;
    }));
    if (id) EXPECT_TRUE(e.unsubscribe(*id));
    std::sort(got.begin(), got.end());  // partitions interleave as they come
    return got;
}

TEST(engine, a_borrowed_publish_stores_the_same_events_as_a_copied_one) {
    // The same events, once copied into the ingest queue and once by reference: keys (one
    // empty), no key, empty and large payloads, headers, a timestamp given or stamped.
    // The lent bytes are declared before the engine, so that they outlive its workers.
    const std::string big(70'000, 'b');
    const header_in headers[] = {{"h1", "v1"}, {"empty", ""}};
    std::vector<event_in> events;
    engine e(test_options(2));
    e.start();
    ASSERT_TRUE(e.create_topic(topic_named("copied", 3)));
    ASSERT_TRUE(e.create_topic(topic_named("borrowed", 3)));
    for (int i = 0; i < 300; ++i) {
        event_in ev;
        switch (i % 5) {
            case 0:
                ev = event_in::without_key("");
                break;
            case 1:
                ev = event_in::with_key(i % 2 ? "" : "key", "payload");
                break;
            case 2:
                ev = event_in::without_key(big);
                ev.headers = headers;
                break;
            case 3:
                ev = event_in::with_key("k", "stamped");
                ev.timestamp_ns = 1'000'000'000LL * (1000 + i);
                break;
            default:
                ev = event_in::without_key(std::string_view(big).substr(0, 1000 + i));
                break;
        }
        events.push_back(ev);
    }
    outcome_log copied, borrowed;
    publish_options by_copy;
    by_copy.on_full = backpressure::block;
    publish_options by_reference = by_copy;
    by_reference.borrowed = true;
    auto rc = e.publish(*e.find_topic("copied"), events, by_copy, copied.completion());
    auto rb = e.publish(*e.find_topic("borrowed"), events, by_reference, borrowed.completion());
    ASSERT_TRUE(rc) << rc.err().message;
    ASSERT_TRUE(rb) << rb.err().message;
    EXPECT_EQ(rb->events_queued, 300u);
    EXPECT_EQ(rb->batches_queued, rc->batches_queued);
    ASSERT_TRUE(eventually([&] { return borrowed.taken().size() == rb->batches_queued; }));
    ASSERT_TRUE(eventually([&] { return copied.taken().size() == rc->batches_queued; }));
    for (const publish_outcome& o : borrowed.taken()) EXPECT_EQ(o.code, errc::ok);
    auto a = stored_events(e, *e.find_topic("copied"), 300);
    auto b = stored_events(e, *e.find_topic("borrowed"), 300);
    ASSERT_EQ(a.size(), 300u);
    // The stamped times differ; everything else is the same.
    const auto without_stamps = [](std::vector<std::string> v) {
        for (auto& s : v) {
            const size_t at = s.find(" ts=");
            const size_t end = s.find(" key=");
            if (s.find("stamped") == std::string::npos) s.erase(at, end - at);
        }
        return v;
    };
    EXPECT_EQ(without_stamps(a), without_stamps(b));
    EXPECT_NE(std::find_if(b.begin(), b.end(),
                           [](const std::string& s) {
                               return s.find("headers=h1:v1;empty:;") != std::string::npos;
                           }),
              b.end());
}

TEST(engine, a_borrowed_publish_reads_the_events_when_the_worker_appends_them) {
    // What borrowing means: the publisher's bytes are read by the worker at the append, after
    // publish returned, and not copied by publish. Shown on an engine whose workers have not
    // started yet, so that the batches wait in the queue while the publisher changes its bytes:
    // the borrowed batch stores the bytes as they are at the append, the copied one as they
    // were at the publish. Once the completion has run the bytes are the publisher's again.
    // Events too small to be worth it (their views would take more of the queue than their
    // records) are copied even when lent.
    std::string payload = "before" + std::string(100, '.');
    std::string tiny = "b";
    outcome_log copied, borrowed, small;
    engine e(test_options(1));
    ASSERT_TRUE(e.create_topic(topic_named("copied")));
    ASSERT_TRUE(e.create_topic(topic_named("borrowed")));
    ASSERT_TRUE(e.create_topic(topic_named("small")));
    const event_in events[] = {event_in::with_key("k", payload)};
    const event_in tiny_events[] = {event_in::without_key(tiny), event_in::without_key(tiny)};
    publish_options by_reference;
    by_reference.borrowed = true;
    ASSERT_TRUE(e.publish(*e.find_topic("copied"), events, {}, copied.completion()));
    ASSERT_TRUE(e.publish(*e.find_topic("borrowed"), events, by_reference, borrowed.completion()));
    ASSERT_TRUE(e.publish(*e.find_topic("small"), tiny_events, by_reference, small.completion()));
    payload.replace(0, 6, "after!");
    tiny = "a";
    e.start();
    ASSERT_TRUE(eventually([&] { return borrowed.taken().size() == 1; }));
    payload.replace(0, 6, "later.");  // the partition holds its own copy by now
    const auto a = stored_events(e, *e.find_topic("copied"), 1);
    const auto b = stored_events(e, *e.find_topic("borrowed"), 1);
    const auto c = stored_events(e, *e.find_topic("small"), 2);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    ASSERT_EQ(c.size(), 2u);
    EXPECT_NE(a[0].find("payload=[before."), std::string::npos) << a[0];
    EXPECT_NE(b[0].find("payload=[after!."), std::string::npos) << b[0];
    EXPECT_NE(c[0].find("payload=[b]"), std::string::npos) << c[0];
    EXPECT_NE(c[1].find("payload=[b]"), std::string::npos) << c[1];
}

TEST(engine, a_borrowed_publish_without_a_completion_is_copied) {
    // Without a completion the publisher cannot know when its bytes are free: copied.
    std::string payload = "before" + std::string(100, '.');
    engine e(test_options(1));
    ASSERT_TRUE(e.create_topic(topic_named("t")));
    const event_in events[] = {event_in::without_key(payload)};
    publish_options by_reference;
    by_reference.borrowed = true;
    ASSERT_TRUE(e.publish(*e.find_topic("t"), events, by_reference));
    payload.replace(0, 6, "after!");
    e.start();
    const auto got = stored_events(e, *e.find_topic("t"), 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0].find("payload=[before."), std::string::npos) << got[0];
}

TEST(engine, a_borrowed_publish_needs_no_more_of_the_queue_than_a_copied_one) {
    // Lent events are claimed per batch as views or as records, whichever is smaller: on a
    // small queue, a partition's events that fit it at once copied are taken lent too, all or
    // none, in order. Here 995 tiny events (records of 40 bytes; their views, 64 bytes each,
    // would not fit the 64 KiB queue together) among 5 large ones.
    std::vector<std::string> payloads;
    for (int i = 0; i < 1000; ++i) {
        payloads.push_back(i % 200 == 199 ? std::string(3000, 'x') + std::to_string(i)
                                          : std::to_string(i));
    }
    outcome_log log;
    small_queue_engine x(64 << 10, 4096, 4000);
    engine& e = x.e;
    const topic_ptr& t = x.t;
    publish_options po;
    po.borrowed = true;
    po.partition = 0;
    auto r = e.publish(t, events_of(payloads), po, log.completion());
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->events_queued, 1000u);
    ASSERT_TRUE(eventually([&] { return log.taken().size() == r->batches_queued; }));
    auto f = std::make_shared<feed>(1);
    ASSERT_TRUE(e.subscribe(t, {}, start_position::earliest(), f));
    received got;
    ASSERT_TRUE(drain_until(*f, got, 1000));
    for (int i = 0; i < 1000; ++i) {
        EXPECT_EQ(got.by_partition[0][i].first, static_cast<uint64_t>(i));
        EXPECT_EQ(got.by_partition[0][i].second, payloads[i]);
    }
}

}  // namespace
}  // namespace es::core
