// Memory partitions: offsets in order, reads from any held offset, retention by bytes and age,
// and a seeded randomized run checked against a simple model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "core/batch.h"
#include "core/memory_partition.h"
#include "core/segment_pool.h"

namespace es::core {
namespace {

topic_config small_topic(uint64_t retention_bytes, uint64_t retention_ms = 0) {
    topic_config c;
    c.name = "t";
    c.retention_bytes = retention_bytes;
    c.retention_ms = retention_ms;
    c.max_event_bytes = 4096;
    return c;
}

std::unique_ptr<event_batch> batch_of(const std::vector<std::string>& payloads, int64_t ts = 0) {
    size_t bytes = 0;
    for (const auto& p : payloads) bytes += encoded_size(event_in::without_key(p));
    auto b = event_batch::create(bytes);
    for (const auto& p : payloads) {
        event_in e = event_in::without_key(p);
        e.timestamp_ns = ts;
        EXPECT_TRUE(b->append(e));
    }
    return b;
}

std::vector<event_view> views_of(const record_run& run) {
    std::vector<event_view> out;
    for_each_event(run, [&](const event_view& v) { out.push_back(v); });
    return out;
}

std::vector<std::string> read_all(const memory_partition& p, uint64_t from) {
    std::vector<std::string> out;
    while (from < p.end_offset()) {
        const auto views = views_of(p.read(from, 1024, SIZE_MAX));
        EXPECT_GT(views.size(), 0u);
        for (size_t i = 0; i < views.size(); ++i) {
            EXPECT_EQ(views[i].offset, from + i);
            out.emplace_back(views[i].payload);
        }
        from += views.size();
    }
    return out;
}

TEST(memory_partition, assigns_consecutive_offsets_and_stamps_time) {
    memory_partition p(0, small_topic(1 << 20));
    EXPECT_EQ(p.append(batch_of({"a", "b", "c"})->records(), 500), 0u);
    EXPECT_EQ(p.append(batch_of({"d"}, 77)->records(), 600), 3u);
    EXPECT_EQ(p.start_offset(), 0u);
    EXPECT_EQ(p.end_offset(), 4u);
    EXPECT_EQ(p.end_offset_approx(), 4u);

    auto v = views_of(p.read(0, 10, SIZE_MAX));
    ASSERT_EQ(v.size(), 4u);
    EXPECT_EQ(v[0].payload, "a");
    EXPECT_EQ(v[0].timestamp_ns, 500);  // stamped on append
    EXPECT_EQ(v[3].payload, "d");
    EXPECT_EQ(v[3].timestamp_ns, 77);  // the producer's own stamp is kept
    EXPECT_EQ(v[3].offset, 3u);
    v = views_of(p.read(2, 10, SIZE_MAX));
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].payload, "c");
    EXPECT_EQ(p.read(4, 10, SIZE_MAX).count, 0u);
}

TEST(memory_partition, read_respects_event_and_byte_bounds_but_returns_at_least_one) {
    memory_partition p(0, small_topic(1 << 20));
    p.append(
        batch_of({std::string(100, 'a'), std::string(100, 'b'), std::string(100, 'c')})->records(),
        1);
    EXPECT_EQ(p.read(0, 2, SIZE_MAX).count, 2u);  // bounded by the event count
    const record_run one = p.read(0, 10, 1);      // one event even if larger than max_bytes
    EXPECT_EQ(one.count, 1u);
    EXPECT_EQ(views_of(one)[0].payload, std::string(100, 'a'));
    EXPECT_EQ(p.read(0, 10, 2 * one.bytes).count, 2u);
    EXPECT_EQ(p.read(0, 10, 3 * one.bytes - 1).count, 2u);
    EXPECT_EQ(p.read(0, 10, 3 * one.bytes).count, 3u);
    EXPECT_EQ(p.read(1, 10, 2 * one.bytes).bytes, 2 * one.bytes);
    EXPECT_EQ(p.read(0, 0, SIZE_MAX).count, 0u);
}

TEST(memory_partition, byte_retention_drops_oldest_segments_and_bounds_memory) {
    const uint64_t retention = 256 * 1024;
    memory_partition p(0, small_topic(retention));
    const std::string payload(1000, 'x');
    for (int i = 0; i < 2000; ++i) p.append(batch_of({payload + std::to_string(i)})->records(), 1);
    EXPECT_EQ(p.end_offset(), 2000u);
    EXPECT_GT(p.start_offset(), 0u);
    EXPECT_LE(p.stored_bytes(), retention + p.segment_bytes());
    // What is held is the newest events, complete and in order.
    auto got = read_all(p, p.start_offset());
    ASSERT_EQ(got.size(), p.end_offset() - p.start_offset());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i], payload + std::to_string(p.start_offset() + i));
    }
    // It keeps at least the retention minus one segment.
    const size_t record = encoded_size(event_in::without_key(payload + "1000"));
    EXPECT_GE(got.size() * record, retention - p.segment_bytes() - record);
}

TEST(segment_pool, keeps_given_buffers_up_to_its_bound_and_hands_them_out_again) {
    constexpr size_t size = 64 * 1024;
    segment_pool pool(size, 2 * size);
    size_t mapped = 1;
    auto a = pool.take(&mapped);
    EXPECT_EQ(mapped, 0u);  // nothing kept yet: a new buffer, no page mapped
    auto b = pool.take();
    auto c = pool.take();
    std::byte* const a_at = a.get();
    pool.give(std::move(a), 5000);  // written through its first 5000 bytes
    EXPECT_EQ(pool.kept_bytes(), size);
    auto again = pool.take(&mapped);
    EXPECT_EQ(again.get(), a_at);  // the same memory, with the pages it was written through
    EXPECT_EQ(mapped, 5000u);
    EXPECT_EQ(pool.kept_bytes(), 0u);
    pool.give(std::move(again), size);
    pool.give(std::move(b), 0);
    pool.give(std::move(c), 0);  // over the bound: freed
    EXPECT_EQ(pool.kept_bytes(), 2 * size);

    segment_pool none(size, 0);
    none.give(none.take(), size);
    EXPECT_EQ(none.kept_bytes(), 0u);

    segment_pool filled(size, 3 * size + 100);  // whole buffers only
    EXPECT_EQ(filled.pretouch(), 3 * size);
    EXPECT_EQ(filled.kept_bytes(), 3 * size);
    EXPECT_EQ(filled.pretouch(), 0u);
    filled.take(&mapped);
    EXPECT_EQ(mapped, size);  // every page touched
}

// Segments that retention drops or a partition's end frees go to the pool; another partition
// writes over them, and reads back only its own events.
TEST(memory_partition, segments_go_back_to_the_pool_and_are_written_over_by_the_next) {
    const uint64_t retention = 256 * 1024;
    memory_partition probe(0, small_topic(retention));
    const size_t segment = probe.segment_bytes();
    auto pool = std::make_shared<segment_pool>(segment, 64 * segment);
    const std::string payload(1000, 'x');
    {
        memory_partition first(0, small_topic(retention), pool);
        for (int i = 0; i < 2000; ++i)
            first.append(batch_of({payload + std::to_string(i)})->records(), 1);
        EXPECT_GT(first.start_offset(), 0u);
        // A dropped segment became the partition's spare, and the next one it needed was that
        // spare: the partition recycles its own while it runs.
        EXPECT_EQ(pool->kept_bytes(), 0u);
    }
    const size_t kept_after_first = pool->kept_bytes();
    EXPECT_GE(kept_after_first, 4 * segment);  // its segments came back when it went

    memory_partition second(1, small_topic(retention), pool);
    const std::string other(900, 'y');
    for (int i = 0; i < 600; ++i)
        second.append(batch_of({other + std::to_string(i)})->records(), 1);
    EXPECT_LT(pool->kept_bytes(), kept_after_first);  // it took kept buffers
    auto got = read_all(second, second.start_offset());
    ASSERT_EQ(got.size(), second.end_offset() - second.start_offset());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i], other + std::to_string(second.start_offset() + i));
    }

    // A partition whose segments are of another size does not use the pool.
    const size_t before = pool->kept_bytes();
    memory_partition big(2, small_topic(64 << 20), pool);
    ASSERT_NE(big.segment_bytes(), segment);
    for (int i = 0; i < 100; ++i) big.append(batch_of({payload})->records(), 1);
    EXPECT_EQ(pool->kept_bytes(), before);
}

TEST(memory_partition, age_retention_trims_old_events_only) {
    memory_partition p(0, small_topic(1 << 20, /*retention_ms=*/1000));
    const int64_t ms = 1'000'000;
    p.append(batch_of({"old1", "old2"})->records(), 1000 * ms);
    p.append(batch_of({"new"})->records(), 1800 * ms);
    p.trim_by_age(1900 * ms);  // cutoff 900 ms: nothing is old enough
    EXPECT_EQ(p.start_offset(), 0u);
    p.trim_by_age(2500 * ms);  // cutoff 1500 ms: the first two go
    EXPECT_EQ(p.start_offset(), 2u);
    EXPECT_EQ(p.start_offset_approx(), 2u);
    EXPECT_EQ(read_all(p, 2), (std::vector<std::string>{"new"}));
    p.trim_by_age(10'000 * ms);  // everything goes; offsets keep counting
    EXPECT_EQ(p.start_offset(), 3u);
    EXPECT_EQ(p.stored_bytes(), 0u);
    EXPECT_EQ(p.append(batch_of({"later"})->records(), 10'000 * ms), 3u);
    EXPECT_EQ(read_all(p, 3), (std::vector<std::string>{"later"}));
}

TEST(memory_partition, zero_retention_ms_keeps_events_of_any_age) {
    memory_partition p(0, small_topic(1 << 20, 0));
    p.append(batch_of({"a"})->records(), 1);
    p.trim_by_age(INT64_MAX / 2);
    EXPECT_EQ(p.start_offset(), 0u);
}

TEST(memory_partition, offset_for_timestamp_finds_first_at_or_after) {
    memory_partition p(0, small_topic(1 << 20));
    p.append(batch_of({"a"})->records(), 10);
    p.append(batch_of({"b"})->records(), 20);
    p.append(batch_of({"c"})->records(), 30);
    EXPECT_EQ(p.offset_for_timestamp(0), 0u);
    EXPECT_EQ(p.offset_for_timestamp(20), 1u);
    EXPECT_EQ(p.offset_for_timestamp(21), 2u);
    EXPECT_EQ(p.offset_for_timestamp(31), 3u);
}

TEST(memory_partition, offset_for_timestamp_with_out_of_order_stamps_across_segments) {
    memory_partition p(0, small_topic(1 << 20));
    const std::string big(1000, 'x');
    // Enough 1 KB events at time 5 to fill more than one segment, then 3, then 9, then 7.
    const uint64_t filler = 2 * p.segment_bytes() / 1000;
    for (uint64_t i = 0; i < filler; ++i) p.append(batch_of({big}, 5)->records(), 1);
    const uint64_t at3 = p.append(batch_of({"three"}, 3)->records(), 1);
    const uint64_t at9 = p.append(batch_of({"nine"}, 9)->records(), 1);
    const uint64_t at7 = p.append(batch_of({"seven"}, 7)->records(), 1);
    EXPECT_EQ(p.offset_for_timestamp(5), 0u);
    EXPECT_EQ(p.offset_for_timestamp(6), at9);  // the first at or after 6 in offset order
    EXPECT_EQ(p.offset_for_timestamp(8), at9);
    EXPECT_EQ(p.offset_for_timestamp(10), p.end_offset());
    EXPECT_EQ(at7, at9 + 1);
    EXPECT_EQ(at3 + 1, at9);
}

// Random appends, reads and trims against a model that keeps every event ever appended. The
// partition must hold a suffix of the model, read back byte for byte, within its memory bound.
TEST(memory_partition, randomized_against_model) {
    const char* env_seed = std::getenv("ES_TEST_SEED");
    const uint64_t seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
    SCOPED_TRACE("seed " + std::to_string(seed) +
                 " (rerun with ES_TEST_SEED=" + std::to_string(seed) + ")");
    std::mt19937_64 rng(seed);
    const uint64_t retention = 128 * 1024;
    memory_partition p(0, small_topic(retention, 50));
    std::vector<std::pair<std::string, int64_t>> model;  // by offset
    int64_t now = 1'000'000'000;
    uint64_t last_start = 0;
    for (int step = 0; step < 3000; ++step) {
        const int op = static_cast<int>(rng() % 10);
        if (op < 6) {
            const size_t n = 1 + rng() % 8;
            std::vector<std::string> payloads;
            for (size_t i = 0; i < n; ++i) {
                payloads.push_back(std::string(rng() % 2000, static_cast<char>('a' + rng() % 26)) +
                                   std::to_string(model.size() + i));
            }
            const uint64_t base = p.append(batch_of(payloads)->records(), now);
            ASSERT_EQ(base, model.size());
            for (auto& s : payloads) model.emplace_back(std::move(s), now);
        } else if (op < 8) {
            if (p.start_offset() < p.end_offset()) {
                const uint64_t from =
                    p.start_offset() + rng() % (p.end_offset() - p.start_offset());
                const auto max_events = static_cast<uint32_t>(1 + rng() % 64);
                const size_t max_bytes = 1 + rng() % 50000;
                const record_run run = p.read(from, max_events, max_bytes);
                const auto v = views_of(run);
                const size_t n = v.size();
                ASSERT_GE(n, 1u);
                ASSERT_EQ(n, run.count);
                ASSERT_LE(n, max_events);
                if (n > 1) {
                    ASSERT_LE(run.bytes, max_bytes);
                }
                for (size_t i = 0; i < n; ++i) {
                    ASSERT_EQ(v[i].offset, from + i);
                    ASSERT_EQ(v[i].payload, model[from + i].first);
                    ASSERT_EQ(v[i].timestamp_ns, model[from + i].second);
                }
            }
        } else {
            now += static_cast<int64_t>(rng() % 20) * 1'000'000;
            const uint64_t before = p.start_offset();
            p.trim_by_age(now);
            // What this trim dropped was older than the cutoff; what it kept is not.
            if (p.start_offset() > before) {
                ASSERT_LT(model[p.start_offset() - 1].second, now - 50'000'000);
            }
            if (p.start_offset() < p.end_offset()) {
                ASSERT_GE(model[p.start_offset()].second, now - 50'000'000);
            }
        }
        ASSERT_GE(p.start_offset(), last_start);
        last_start = p.start_offset();
        ASSERT_EQ(p.end_offset(), model.size());
        ASSERT_LE(p.stored_bytes(), retention + p.segment_bytes());
    }
}

}  // namespace
}  // namespace es::core
