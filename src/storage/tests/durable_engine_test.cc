// The engine with a real store behind it: durable topics end to end on worker threads, with
// RocksDB in a temporary directory. Acks after the write, restart, subscribers behind the
// memory ring reading from disk, group offsets, retention on disk, delete.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/feed.h"
#include "storage/log_store.h"
#include "storage/store_service.h"
#include "storage/tests/store_fixture.h"

namespace es::storage {
namespace {

using namespace std::chrono_literals;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

using testing::temp_dir;

// Counts publish outcomes; shared by every batch of a test.
struct acks {
    std::atomic<uint64_t> ok_events{0};
    std::atomic<uint64_t> failed{0};
    std::mutex mutex;
    std::map<uint32_t, std::vector<std::pair<uint64_t, uint32_t>>> ranges;  // base, count

    core::publish_completion completion() {
        return {[](void* ctx, const core::publish_outcome& o) {
                    auto& a = *static_cast<acks*>(ctx);
                    if (o.code != errc::ok) {
                        a.failed++;
                        return;
                    }
                    {
                        std::lock_guard lock(a.mutex);
                        a.ranges[o.partition].emplace_back(o.base_offset, o.count);
                    }
                    a.ok_events += o.count;
                },
                this};
    }
};

// Every publish outcome, in the order the worker reported them.
struct outcome_log {
    std::mutex m;
    std::vector<core::publish_outcome> got;

    core::publish_completion completion() {
        return {[](void* ctx, const core::publish_outcome& o) {
                    auto* log = static_cast<outcome_log*>(ctx);
                    std::lock_guard l(log->m);
                    log->got.push_back(o);
                },
                this};
    }
    size_t size() {
        std::lock_guard l(m);
        return got.size();
    }
};

// A node's durable half without the listeners: store, service and engine.
class durable_node {
  public:
    explicit durable_node(std::string dir, store_service_options so = {},
                          core::durable_batching batching = {})
        : dir_(std::move(dir)), service_options_(so), batching_(batching) {
        open();
    }
    ~durable_node() { close(); }

    void open() {
        store_options o;
        o.path = dir_ + "/store";
        auto s = log_store::open(o);
        ASSERT_TRUE(s) << s.err().message;
        store_ = std::move(*s);
        service_ = std::make_unique<store_service>(*store_, service_options_);
        service_->start();
        core::engine_options eo;
        eo.workers = 2;
        eo.pin_workers = false;
        eo.durable = service_.get();
        eo.worker.durable = batching_;
        engine_ = std::make_unique<core::engine>(eo);
        auto restored = engine_->restore_topics();
        ASSERT_TRUE(restored) << restored.err().message;
        engine_->start();
    }

    void close() {
        if (engine_) engine_->stop();
        if (service_) service_->stop();
        engine_.reset();
        service_.reset();
        store_.reset();
    }

    void reopen() {
        close();
        open();
    }

    core::engine& engine() { return *engine_; }
    log_store& store() { return *store_; }

  private:
    std::string dir_;
    store_service_options service_options_;
    core::durable_batching batching_;
    std::unique_ptr<log_store> store_;
    std::unique_ptr<store_service> service_;
    std::unique_ptr<core::engine> engine_;
};

core::topic_config durable_topic(std::string name, uint32_t partitions = 1) {
    core::topic_config c;
    c.name = std::move(name);
    c.partitions = partitions;
    c.storage = core::storage_mode::durable;
    return c;
}

std::string payload_of(uint32_t partition, uint64_t i, size_t size = 16) {
    std::string s = "p" + std::to_string(partition) + "-e" + std::to_string(i) + "-";
    s.resize(std::max(size, s.size()), 'x');
    return s;
}

// Publishes `count` events to `partition` in batches of `batch`, each batch acked.
void publish(core::engine& e, const core::topic_ptr& t, uint32_t partition, uint64_t first,
             uint64_t count, acks& a, size_t batch = 50, size_t payload_bytes = 16) {
    core::publish_options po;
    po.partition = partition;
    po.on_full = core::backpressure::block;
    for (uint64_t i = first; i < first + count; i += batch) {
        std::vector<std::string> payloads;
        for (uint64_t j = i; j < std::min(first + count, i + batch); ++j) {
            payloads.push_back(payload_of(partition, j, payload_bytes));
        }
        std::vector<core::event_in> events;
        for (const auto& p : payloads) events.push_back(core::event_in::without_key(p));
        auto r = e.publish(t, events, po, a.completion());
        ASSERT_TRUE(r) << r.err().message;
    }
}

struct collected {
    std::map<uint32_t, std::vector<std::pair<uint64_t, std::string>>> events;
    std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> gaps;
    size_t count = 0;
};

size_t drain(core::feed& f, collected& c) {
    return f.poll(
        [&](const core::event_view& v, uint32_t p) {
            c.events[p].emplace_back(v.offset, std::string(v.payload));
            ++c.count;
        },
        [&](uint32_t p, uint64_t first, uint64_t last) { c.gaps.emplace_back(p, first, last); });
}

// Options of idempotent producer `id` publishing to partition 0.
core::publish_options idempotent_producer(uint64_t id) {
    core::publish_options po;
    po.partition = 0;
    po.producer_id = id;
    return po;
}

// Subscribes to every partition of `t` from the earliest event and collects into `c` until
// `count` events came. Returns the subscription's feed (null when they did not come in time).
std::shared_ptr<core::feed> read_from_earliest(core::engine& e, const core::topic_ptr& t,
                                               collected& c, size_t count) {
    auto f = std::make_shared<core::feed>(static_cast<uint32_t>(t->partitions.size()));
    if (!e.subscribe(t, {}, core::start_position::earliest(), f)) return nullptr;
    const bool came = eventually([&] {
        drain(*f, c);
        return c.count >= count;
    });
    return came ? f : nullptr;
}

// Every offset from `from` to `to` (exclusive), once, in order, with the payload published.
void expect_contiguous(const std::vector<std::pair<uint64_t, std::string>>& got, uint32_t p,
                       uint64_t from, uint64_t to, size_t payload_bytes = 16) {
    ASSERT_EQ(got.size(), to - from) << "partition " << p;
    for (uint64_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].first, from + i) << "partition " << p;
        ASSERT_EQ(got[i].second, payload_of(p, from + i, payload_bytes)) << "partition " << p;
    }
}

TEST(durable_engine_test, acks_then_restart_brings_every_event_back) {
    temp_dir dir;
    acks a;
    {
        durable_node n(dir.path());
        auto info = n.engine().create_topic(durable_topic("orders", 2));
        ASSERT_TRUE(info) << info.err().message;
        auto t = n.engine().find_topic("orders");
        ASSERT_TRUE(t);
        publish(n.engine(), *t, 0, 0, 1000, a);
        publish(n.engine(), *t, 1, 0, 700, a);
        ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 1700; }));
        EXPECT_EQ(a.failed.load(), 0u);
        // Offsets were given in order, without holes, per partition.
        std::lock_guard lock(a.mutex);
        for (auto& [p, ranges] : a.ranges) {
            std::sort(ranges.begin(), ranges.end());
            uint64_t next = 0;
            for (auto [base, count] : ranges) {
                EXPECT_EQ(base, next);
                next = base + count;
            }
        }
    }
    durable_node n(dir.path());
    auto info = n.engine().describe_topic("orders");
    ASSERT_TRUE(info) << info.err().message;
    EXPECT_EQ(info->config.storage, core::storage_mode::durable);
    ASSERT_EQ(info->partitions.size(), 2u);
    EXPECT_EQ(info->partitions[0].end_offset, 1000u);
    EXPECT_EQ(info->partitions[1].end_offset, 700u);

    auto t = n.engine().find_topic("orders");
    ASSERT_TRUE(t);
    collected c;
    auto f = read_from_earliest(n.engine(), *t, c, 1700);
    ASSERT_TRUE(f);
    EXPECT_TRUE(c.gaps.empty());
    expect_contiguous(c.events[0], 0, 0, 1000);
    expect_contiguous(c.events[1], 1, 0, 700);

    // New events continue the offsets, and the live subscriber gets them too.
    acks more;
    publish(n.engine(), *t, 0, 1000, 10, more);
    ASSERT_TRUE(eventually([&] { return more.ok_events.load() == 10; }));
    EXPECT_EQ(more.ranges[0].front().first, 1000u);
    ASSERT_TRUE(eventually([&] {
        drain(*f, c);
        return c.count >= 1710;
    }));
    expect_contiguous(c.events[0], 0, 0, 1010);
}

TEST(durable_engine_test, a_borrowed_publish_is_written_to_disk_and_survives_a_restart) {
    // Events passed by reference (publish_options::borrowed) are encoded by the worker into the
    // batch for the disk; their bytes stay the publisher's until every ack has come.
    temp_dir dir;
    std::vector<std::string> payloads;
    for (uint64_t j = 0; j < 600; ++j) payloads.push_back(payload_of(0, j, 300));
    {
        durable_node n(dir.path());
        ASSERT_TRUE(n.engine().create_topic(durable_topic("borrowed", 1)));
        auto t = n.engine().find_topic("borrowed");
        ASSERT_TRUE(t);
        acks a;
        core::publish_options po;
        po.partition = 0;
        po.on_full = core::backpressure::block;
        po.borrowed = true;
        for (size_t i = 0; i < payloads.size(); i += 64) {
            std::vector<core::event_in> events;  // may go once publish returns
            for (size_t j = i; j < std::min(payloads.size(), i + 64); ++j) {
                events.push_back(core::event_in::without_key(payloads[j]));
            }
            auto r = n.engine().publish(*t, events, po, a.completion());
            ASSERT_TRUE(r) << r.err().message;
        }
        ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 600; }));
        EXPECT_EQ(a.failed.load(), 0u);
    }
    for (auto& p : payloads) p.assign(p.size(), '!');  // the disk holds its own copy
    durable_node n(dir.path());
    auto t = n.engine().find_topic("borrowed");
    ASSERT_TRUE(t);
    collected c;
    ASSERT_TRUE(read_from_earliest(n.engine(), *t, c, 600));
    expect_contiguous(c.events[0], 0, 0, 600, 300);
}

TEST(durable_engine_test, subscriber_behind_the_memory_ring_reads_from_disk_without_gap) {
    temp_dir dir;
    core::durable_batching b;
    b.cache_bytes = 64 * 1024;  // the smallest ring: most of the log is only on disk
    durable_node n(dir.path(), {}, b);
    ASSERT_TRUE(n.engine().create_topic(durable_topic("big")));
    auto t = *n.engine().find_topic("big");
    acks a;
    const uint64_t total = 4000;
    publish(n.engine(), t, 0, 0, total, a, 100, 512);  // about 2.2 MB
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == total; }));

    // Small credit: the subscriber takes events slowly, and reads go to disk many times.
    core::feed_options fo;
    fo.max_buffered_events = 64;
    fo.max_buffered_bytes = 16 * 1024;
    auto f = std::make_shared<core::feed>(1, fo);
    ASSERT_TRUE(n.engine().subscribe(t, {}, core::start_position::earliest(), f));
    collected c;
    ASSERT_TRUE(eventually([&] {
        drain(*f, c);
        return c.count >= total;
    }));
    EXPECT_TRUE(c.gaps.empty());
    expect_contiguous(c.events[0], 0, 0, total, 512);

    // A start at an offset in the middle, also on disk.
    auto g = std::make_shared<core::feed>(1);
    ASSERT_TRUE(n.engine().subscribe(t, {}, core::start_position::at_offset(1234), g));
    collected d;
    ASSERT_TRUE(eventually([&] {
        drain(*g, d);
        return d.count >= total - 1234;
    }));
    EXPECT_TRUE(d.gaps.empty());
    expect_contiguous(d.events[0], 0, 1234, total, 512);
}

TEST(durable_engine_test, group_offsets_survive_restart_and_start_subscriptions) {
    temp_dir dir;
    {
        durable_node n(dir.path());
        ASSERT_TRUE(n.engine().create_topic(durable_topic("g", 2)));
        auto t = *n.engine().find_topic("g");
        acks a;
        publish(n.engine(), t, 0, 0, 100, a);
        publish(n.engine(), t, 1, 0, 100, a);
        ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 200; }));
        ASSERT_TRUE(n.engine().commit_offset(t, "billing", 0, 40));
        ASSERT_TRUE(n.engine().commit_offset(t, "billing", 0, 42));  // the last one wins
        auto bad = n.engine().commit_offset(t, "no spaces", 0, 1);
        ASSERT_FALSE(bad);
        EXPECT_EQ(bad.err().code, errc::invalid_argument);
        auto missing = n.engine().commit_offset(t, "billing", 7, 1);
        ASSERT_FALSE(missing);
        EXPECT_EQ(missing.err().code, errc::not_found);
    }
    durable_node n(dir.path());
    auto t = *n.engine().find_topic("g");
    auto c0 = n.engine().committed_offset(t, "billing", 0);
    ASSERT_TRUE(c0);
    ASSERT_TRUE(c0->has_value());
    EXPECT_EQ(**c0, 42u);
    auto c1 = n.engine().committed_offset(t, "billing", 1);
    ASSERT_TRUE(c1);
    EXPECT_FALSE(c1->has_value());

    // Partition 0 resumes at 42; partition 1, never committed, falls back to earliest.
    auto f = std::make_shared<core::feed>(2);
    ASSERT_TRUE(n.engine().subscribe(
        t, {}, core::start_position::committed(core::start_position::kind::earliest), f,
        "billing"));
    collected c;
    ASSERT_TRUE(eventually([&] {
        drain(*f, c);
        return c.count >= 58 + 100;
    }));
    expect_contiguous(c.events[0], 0, 42, 100);
    expect_contiguous(c.events[1], 1, 0, 100);

    auto no_group = n.engine().subscribe(t, {}, core::start_position::committed(),
                                         std::make_shared<core::feed>(2));
    ASSERT_FALSE(no_group);
    EXPECT_EQ(no_group.err().code, errc::invalid_argument);
}

TEST(durable_engine_test, retention_on_disk_reports_a_gap_to_a_late_subscriber) {
    temp_dir dir;
    store_service_options so;
    so.retention_check_ms = 10;
    core::durable_batching b;
    b.cache_bytes = 64 * 1024;
    b.batch_events_max = 100;  // many batches: retention deletes whole ones, never the newest
    durable_node n(dir.path(), so, b);
    auto cfg = durable_topic("short");
    cfg.retention_bytes = 64 * 1024;
    cfg.max_event_bytes = 4096;
    auto created = n.engine().create_topic(cfg);
    ASSERT_TRUE(created) << created.err().message;
    auto t = *n.engine().find_topic("short");
    acks a;
    publish(n.engine(), t, 0, 0, 2000, a, 100, 512);  // ~1.1 MB, far over retention
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 2000; }));
    // Retention runs every 10 ms and deletes a few batches each time: wait until it has brought
    // the partition under its retention, so that it deletes nothing more while we read.
    uint64_t start = 0;
    ASSERT_TRUE(eventually([&] {
        const auto p = n.engine().describe_topic("short")->partitions[0];
        start = p.start_offset;
        return start > 0 && p.stored_bytes <= cfg.retention_bytes;
    }));
    auto f = std::make_shared<core::feed>(1);
    ASSERT_TRUE(n.engine().subscribe(t, {}, core::start_position::at_offset(0), f));
    collected c;
    ASSERT_TRUE(eventually([&] {
        drain(*f, c);
        return !c.events[0].empty() && c.events[0].back().first == 1999;
    }));
    ASSERT_FALSE(c.gaps.empty());
    EXPECT_EQ(std::get<1>(c.gaps.front()), 0u);
    const uint64_t resumed = std::get<2>(c.gaps.front()) + 1;
    EXPECT_GE(resumed, start);
    expect_contiguous(c.events[0], 0, resumed, 2000, 512);
}

TEST(durable_engine_test, read_event_finds_events_on_disk_and_explains_misses) {
    temp_dir dir;
    durable_node n(dir.path());
    ASSERT_TRUE(n.engine().create_topic(durable_topic("lookup")));
    auto t = *n.engine().find_topic("lookup");
    acks a;
    publish(n.engine(), t, 0, 0, 30, a);
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 30; }));
    auto e = n.engine().read_event(t, 0, 17);
    ASSERT_TRUE(e) << e.err().message;
    EXPECT_EQ(e->offset, 17u);
    EXPECT_EQ(e->payload, payload_of(0, 17));
    EXPECT_FALSE(e->key.has_value());
    auto future = n.engine().read_event(t, 0, 30);
    ASSERT_FALSE(future);
    EXPECT_EQ(future.err().code, errc::not_found);
    EXPECT_NE(future.err().message.find("not been written"), std::string::npos);
    n.reopen();
    t = *n.engine().find_topic("lookup");
    auto again = n.engine().read_event(t, 0, 29);
    ASSERT_TRUE(again) << again.err().message;
    EXPECT_EQ(again->payload, payload_of(0, 29));
}

TEST(durable_engine_test, deleted_topic_is_gone_from_disk_and_its_name_starts_fresh) {
    temp_dir dir;
    durable_node n(dir.path());
    ASSERT_TRUE(n.engine().create_topic(durable_topic("temp")));
    auto t = *n.engine().find_topic("temp");
    acks a;
    publish(n.engine(), t, 0, 0, 100, a);
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 100; }));
    ASSERT_TRUE(n.engine().delete_topic("temp"));
    n.reopen();
    EXPECT_FALSE(n.engine().find_topic("temp"));
    auto info = n.engine().create_topic(durable_topic("temp"));
    ASSERT_TRUE(info) << info.err().message;
    EXPECT_EQ(info->partitions[0].end_offset, 0u);
    EXPECT_EQ(info->partitions[0].start_offset, 0u);
}

TEST(durable_engine_test, refuses_what_a_single_node_cannot_do) {
    temp_dir dir;
    durable_node n(dir.path());
    auto cfg = durable_topic("rf3");
    cfg.replication_factor = 3;
    auto r = n.engine().create_topic(cfg);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find("replication_factor"), std::string::npos);

    core::engine_options eo;
    eo.workers = 1;
    eo.pin_workers = false;
    core::engine plain(eo);  // no store
    auto refused = plain.create_topic(durable_topic("x"));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.err().code, errc::not_supported);
}

TEST(durable_engine_test, a_batch_goes_to_disk_when_full_or_when_its_linger_ends) {
    temp_dir dir;
    core::durable_batching b;
    b.linger_us = 1'000'000;  // 1 s: far longer than the checks below take
    b.batch_events_max = 10;
    durable_node n(dir.path(), {}, b);
    ASSERT_TRUE(n.engine().create_topic(durable_topic("linger")));
    auto t = *n.engine().find_topic("linger");
    acks a;
    publish(n.engine(), t, 0, 0, 5, a, 1);  // five single-event batches: half a durable batch
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(a.ok_events.load(), 0u) << "acked before the batch was full or lingered";
    EXPECT_EQ(n.engine().describe_topic("linger")->partitions[0].end_offset, 0u);
    publish(n.engine(), t, 0, 5, 5, a, 1);  // the tenth event fills the batch
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 10; }));
    publish(n.engine(), t, 0, 10, 3, a, 1);  // not full: goes when the linger ends
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 13; }));
    EXPECT_EQ(n.engine().describe_topic("linger")->partitions[0].end_offset, 13u);
}

TEST(durable_engine_test, timestamp_start_finds_events_on_disk) {
    temp_dir dir;
    durable_node n(dir.path());
    ASSERT_TRUE(n.engine().create_topic(durable_topic("ts")));
    auto t = *n.engine().find_topic("ts");
    std::vector<std::string> payloads;
    for (int i = 0; i < 10; ++i) payloads.push_back(payload_of(0, i));
    std::vector<core::event_in> events;
    for (int i = 0; i < 10; ++i) {
        auto e = core::event_in::without_key(payloads[i]);
        e.timestamp_ns = 1'000'000'000LL * (i + 1);  // 1 s, 2 s, ...
        events.push_back(e);
    }
    acks a;
    core::publish_options po;
    po.partition = 0;
    ASSERT_TRUE(n.engine().publish(t, events, po, a.completion()));
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 10; }));
    n.reopen();  // the ring is empty now: the lookup must use the disk
    t = *n.engine().find_topic("ts");
    auto f = std::make_shared<core::feed>(1);
    ASSERT_TRUE(n.engine().subscribe(t, {}, core::start_position::at_time(6'500'000'000LL), f));
    collected c;
    ASSERT_TRUE(eventually([&] {
        drain(*f, c);
        return c.count >= 4;
    }));
    expect_contiguous(c.events[0], 0, 6, 10);
}

}  // namespace
}  // namespace es::storage

namespace es::storage {
namespace {

TEST(durable_engine_test, a_retry_of_a_batch_not_yet_on_disk_is_acked_once_it_is) {
    temp_dir dir;
    core::durable_batching b;
    b.linger_us = 200'000;  // the first copy waits on the worker while the retry arrives
    durable_node n(dir.path(), {}, b);
    ASSERT_TRUE(n.engine().create_topic(durable_topic("idem")));
    auto t = *n.engine().find_topic("idem");
    outcome_log s;
    const core::publish_completion done = s.completion();
    const core::event_in events[] = {core::event_in::without_key("x"),
                                     core::event_in::without_key("y")};
    core::publish_options po = idempotent_producer(77);
    ASSERT_TRUE(n.engine().publish(t, events, po, done));
    ASSERT_TRUE(n.engine().publish(t, events, po, done));
    ASSERT_TRUE(eventually([&] { return s.size() == 2; }));
    EXPECT_FALSE(s.got[0].duplicate);
    EXPECT_TRUE(s.got[1].duplicate);
    EXPECT_EQ(s.got[1].base_offset, 0u);
    // On disk once, not twice.
    EXPECT_EQ(n.engine().describe_topic("idem")->partitions[0].end_offset, 2u);
}

TEST(durable_engine_test, a_retried_publish_in_parts_is_answered_part_by_part_in_order) {
    // Publishes of 3 MiB go in three parts of 1 MiB. After two of them and one more event, the
    // partition remembers the producer's last five parts: the retry of the first finds two parts
    // forgotten (duplicates answered once everything appended is on disk, here behind the new
    // event, still lingering) and its last remembered and on disk. The answers must still come
    // in the parts' order: a client gives each event the offset of its part by that order.
    temp_dir dir;
    core::durable_batching b;
    b.linger_us = 200'000;
    durable_node n(dir.path(), {}, b);
    ASSERT_TRUE(n.engine().create_topic(durable_topic("parts")));
    auto t = *n.engine().find_topic("parts");
    outcome_log s;
    const core::publish_completion done = s.completion();
    const std::string payload(100 * 1024, 'p');  // 10 events to a 1 MiB part
    std::vector<core::event_in> events(30, core::event_in::without_key(payload));
    core::publish_options po = idempotent_producer(78);
    auto first = n.engine().publish(t, events, po, done);
    ASSERT_TRUE(first) << first.err().message;
    ASSERT_EQ(first->batches_queued, 3u);
    po.first_sequence = 30;
    ASSERT_TRUE(n.engine().publish(t, events, po, done));
    ASSERT_TRUE(eventually([&] { return s.size() == 6; }));
    const core::event_in one[] = {core::event_in::without_key("z")};
    po.first_sequence = 60;
    ASSERT_TRUE(n.engine().publish(t, one, po, done));  // lingers 200 ms before its write
    po.first_sequence = 0;                              // the first publish again
    ASSERT_TRUE(n.engine().publish(t, events, po, done));
    ASSERT_TRUE(eventually([&] { return s.size() == 10; })) << s.size() << " answers";
    std::lock_guard l(s.m);
    for (size_t i = 0; i < 7; ++i) {
        EXPECT_FALSE(s.got[i].duplicate) << i;
        EXPECT_EQ(s.got[i].base_offset, i * 10) << i;
    }
    // The retry: its first two parts forgotten (seven parts since, five remembered), its last
    // remembered and on disk, yet answered after them.
    for (size_t i = 7; i < 10; ++i) EXPECT_TRUE(s.got[i].duplicate) << i;
    EXPECT_FALSE(s.got[7].known_offset);
    EXPECT_FALSE(s.got[8].known_offset);
    EXPECT_TRUE(s.got[9].known_offset);
    EXPECT_EQ(s.got[9].base_offset, 20u);
    EXPECT_EQ(n.engine().describe_topic("parts")->partitions[0].end_offset, 61u);
}

TEST(durable_engine_test, a_retry_of_a_forgotten_batch_with_nothing_left_to_write_is_answered) {
    // Until 11-29 such a duplicate waited for a write's progress that never came.
    temp_dir dir;
    durable_node n(dir.path());
    ASSERT_TRUE(n.engine().create_topic(durable_topic("old")));
    auto t = *n.engine().find_topic("old");
    acks a;
    core::publish_options po = idempotent_producer(79);
    const core::event_in one[] = {core::event_in::without_key("e")};
    for (uint64_t i = 0; i < 7; ++i) {  // seven batches: the first is forgotten
        po.first_sequence = i;
        ASSERT_TRUE(n.engine().publish(t, one, po, a.completion()));
    }
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 7; }));
    po.first_sequence = 0;
    ASSERT_TRUE(n.engine().publish(t, one, po, a.completion()));
    ASSERT_TRUE(eventually([&] { return a.ok_events.load() == 8; }, 5s));
    EXPECT_EQ(a.failed.load(), 0u);
    EXPECT_EQ(n.engine().describe_topic("old")->partitions[0].end_offset, 7u);
}

TEST(durable_engine_test, a_retry_straddling_the_next_number_writes_its_new_tail_to_disk) {
    // A retry whose batch starts among numbers already appended and ends past them (cut
    // differently from its first send): the head is a duplicate, the tail goes to disk, and
    // both come back after a restart once each.
    temp_dir dir;
    std::vector<std::string> payloads;
    for (uint64_t i = 0; i < 8; ++i) payloads.push_back(payload_of(0, i, 16));
    std::vector<core::event_in> events;
    for (const auto& p : payloads) events.push_back(core::event_in::without_key(p));
    {
        durable_node n(dir.path());
        ASSERT_TRUE(n.engine().create_topic(durable_topic("straddle")));
        auto t = *n.engine().find_topic("straddle");
        outcome_log s;
        core::publish_options po = idempotent_producer(80);
        ASSERT_TRUE(n.engine().publish(t, std::span(events).first(5), po, s.completion()));
        po.first_sequence = 2;
        ASSERT_TRUE(n.engine().publish(t, std::span(events).subspan(2), po, s.completion()));
        ASSERT_TRUE(eventually([&] { return s.size() == 2; }));
        std::lock_guard l(s.m);
        const core::publish_outcome& r = s.got[1];
        EXPECT_EQ(r.code, errc::ok);
        EXPECT_EQ(r.count, 6u);
        EXPECT_EQ(r.duplicate_head, 3u);
        EXPECT_TRUE(r.head_known_offset);
        EXPECT_EQ(r.head_base_offset, 2u);
        EXPECT_EQ(r.base_offset, 5u);
    }
    durable_node n(dir.path());
    EXPECT_EQ(n.engine().describe_topic("straddle")->partitions[0].end_offset, 8u);
    auto t = *n.engine().find_topic("straddle");
    auto f = std::make_shared<core::feed>(1);
    ASSERT_TRUE(n.engine().subscribe(t, {}, core::start_position::earliest(), f));
    collected c;
    ASSERT_TRUE(eventually([&] {
        drain(*f, c);
        return c.count >= 8;
    }));
    expect_contiguous(c.events[0], 0, 0, 8);
}

}  // namespace
}  // namespace es::storage
