// Model-based test of log_store (STYLE.md "Tests"): random appends (some repeated, some
// invalid), reads, lookups, time lookups, retention, group offsets, topic drops and reopens,
// each checked against a plain std::map model. Seeded: a failure prints its seed, and ES_SEED=n
// runs that seed alone (ES_MODEL_OPS sets the number of operations per seed).
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <string>

#include "storage/log_store.h"
#include "storage/tests/store_fixture.h"

namespace es::storage {
namespace {

using testing::encode_run;
using testing::temp_dir;
using testing::test_event;
using testing::test_run;

struct model_batch {
    uint64_t base_offset = 0;
    uint32_t count = 0;
    uint64_t bytes = 0;
    int64_t max_timestamp_ns = 0;
};

struct model_partition {
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t bytes = 0;
    std::map<uint64_t, std::vector<std::byte>> records;  // by offset
    std::map<uint64_t, test_event> events;               // by offset
    std::deque<model_batch> batches;
    std::optional<test_run> last;  // the last run appended, to append again
};

struct model_topic {
    stored_topic meta;
    std::vector<model_partition> partitions;
    std::map<std::pair<std::string, uint32_t>, uint64_t> group_offsets;
};

class model_run {
  public:
    model_run(uint64_t seed, int ops) : rng_(seed), ops_(ops) {}

    void run() {
        reopen();
        if (::testing::Test::HasFatalFailure()) return;
        add_topic();
        add_topic();
        for (int i = 0; i < ops_ && !::testing::Test::HasFatalFailure(); ++i) {
            SCOPED_TRACE("operation " + std::to_string(i));
            const int pick = uniform(0, 99);
            if (pick < 40) {
                append();
            } else if (pick < 58) {
                read();
            } else if (pick < 66) {
                lookup();
            } else if (pick < 73) {
                time_lookup();
            } else if (pick < 80) {
                retention();
            } else if (pick < 90) {
                group_offsets();
            } else if (pick < 96) {
                check_all_bounds();
            } else if (pick < 99) {
                reopen();
                check_all_bounds();
            } else {
                drop_and_add_topic();
            }
        }
        if (!::testing::Test::HasFatalFailure()) check_all_bounds();
    }

  private:
    int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    uint64_t uniform64(uint64_t lo, uint64_t hi) {
        return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
    }
    bool chance(int percent) { return uniform(0, 99) < percent; }

    std::string random_text(size_t n) {
        std::string s(n, ' ');
        for (char& c : s) c = static_cast<char>(uniform(0, 255));
        return s;
    }

    void reopen() {
        store_.reset();
        auto s = log_store::open(store_options{
            .path = dir_.store(), .block_cache_bytes = 1 << 20, .write_buffer_bytes = 256 << 10});
        ASSERT_TRUE(s) << s.err().message;
        store_ = std::move(*s);
        ASSERT_EQ(store_->next_topic_id(), next_topic_id_);
        auto topics = store_->topics();
        ASSERT_TRUE(topics);
        ASSERT_EQ(topics->size(), topics_.size());
        for (const stored_topic& t : *topics) {
            ASSERT_TRUE(topics_.contains(t.id));
            EXPECT_EQ(t.config.name, topics_[t.id].meta.config.name);
            EXPECT_EQ(t.config.partitions, topics_[t.id].meta.config.partitions);
        }
    }

    void add_topic() {
        model_topic t;
        t.meta = testing::durable_topic(next_topic_id_, "topic-" + std::to_string(next_topic_id_),
                                        static_cast<uint32_t>(uniform(1, 3)));
        t.partitions.resize(t.meta.config.partitions);
        ASSERT_TRUE(store_->put_topic(t.meta));
        topics_[t.meta.id] = std::move(t);
        ++next_topic_id_;
        ASSERT_EQ(store_->next_topic_id(), next_topic_id_);
    }

    void drop_and_add_topic() {
        auto it = std::next(topics_.begin(), uniform(0, static_cast<int>(topics_.size()) - 1));
        ASSERT_TRUE(store_->drop_topic(it->first));
        topics_.erase(it);
        add_topic();
    }

    // A random topic and partition.
    std::pair<model_topic*, uint32_t> pick_partition() {
        auto it = std::next(topics_.begin(), uniform(0, static_cast<int>(topics_.size()) - 1));
        return {&it->second, static_cast<uint32_t>(uniform(
                                 0, static_cast<int>(it->second.meta.config.partitions) - 1))};
    }

    test_run random_run(uint64_t base, uint32_t count, std::vector<test_event>& events) {
        for (uint32_t i = 0; i < count; ++i) {
            test_event e;
            clock_ns_ += uniform(1, 20);
            // Timestamps mostly grow but not always, and are never 0.
            e.timestamp_ns = clock_ns_ + uniform(-50, 50);
            e.has_key = chance(50);
            if (e.has_key) e.key = random_text(static_cast<size_t>(uniform(0, 12)));
            e.payload =
                random_text(static_cast<size_t>(chance(5) ? uniform(0, 3000) : uniform(0, 300)));
            if (chance(20)) {
                for (int h = uniform(0, 3); h > 0; --h) {
                    std::string name = "h";  // not "h" + ...: GCC 12 -Wrestrict false positive
                    name += std::to_string(h);
                    e.headers.emplace_back(name, random_text(static_cast<size_t>(uniform(0, 20))));
                }
            }
            events.push_back(std::move(e));
        }
        return encode_run(base, events);
    }

    // Applies a run the store accepted to the model.
    static void apply(model_partition& m, const test_run& run,
                      const std::vector<test_event>& events) {
        size_t pos = 0;
        model_batch b{run.base_offset, run.count, run.bytes.size(), INT64_MIN};
        for (uint32_t i = 0; i < run.count; ++i) {
            const core::event_view v = core::event_view::of(run.bytes.data() + pos);
            m.records[run.base_offset + i].assign(v.record.begin(), v.record.end());
            m.events[run.base_offset + i] = events[i];
            b.max_timestamp_ns = std::max(b.max_timestamp_ns, v.timestamp_ns);
            pos += v.record.size();
        }
        m.batches.push_back(b);
        m.end = run.base_offset + run.count;
        m.bytes += run.bytes.size();
        m.last = run;
    }

    void append() {
        auto [t, p] = pick_partition();
        model_partition& m = t->partitions[p];
        const int kind = uniform(0, 99);
        if (kind < 10 && m.last) {
            // The last batch again: skipped.
            const append_batch b = m.last->to(t->meta.id, p);
            ASSERT_TRUE(store_->append({&b, 1}, chance(10)));
            check_bounds(*t, p);
            return;
        }
        if (kind < 16) {
            // A hole or a partial overlap: refused, nothing written.
            std::vector<test_event> events;
            uint64_t base = m.end + static_cast<uint64_t>(uniform(1, 3));
            uint32_t count = static_cast<uint32_t>(uniform(1, 4));
            if (chance(50) && m.end > m.start) {
                base = m.end - 1;
                count = static_cast<uint32_t>(uniform(2, 4));
            }
            const test_run run = random_run(base, count, events);
            const append_batch b = run.to(t->meta.id, p);
            auto s = store_->append({&b, 1}, false);
            ASSERT_FALSE(s);
            EXPECT_EQ(s.err().code, errc::invalid_argument);
            check_bounds(*t, p);
            return;
        }
        if (kind < 26) {
            // Several batches in one call: two of this partition, one of another.
            auto [t2, p2] = pick_partition();
            if (t2 == t && p2 == p) return;
            model_partition& m2 = t2->partitions[p2];
            std::vector<test_event> e1, e2, e3;
            const test_run r1 = random_run(m.end, static_cast<uint32_t>(uniform(1, 5)), e1);
            const test_run r2 =
                random_run(r1.base_offset + r1.count, static_cast<uint32_t>(uniform(1, 5)), e2);
            const test_run r3 = random_run(m2.end, static_cast<uint32_t>(uniform(1, 5)), e3);
            const append_batch batches[] = {r1.to(t->meta.id, p), r3.to(t2->meta.id, p2),
                                            r2.to(t->meta.id, p)};
            auto s = store_->append(batches, chance(10));
            ASSERT_TRUE(s) << s.err().message;
            apply(m, r1, e1);
            apply(m, r2, e2);
            apply(m2, r3, e3);
            check_bounds(*t, p);
            check_bounds(*t2, p2);
            return;
        }
        std::vector<test_event> events;
        const test_run run = random_run(m.end, static_cast<uint32_t>(uniform(1, 12)), events);
        const append_batch b = run.to(t->meta.id, p);
        auto s = store_->append({&b, 1}, chance(10));
        ASSERT_TRUE(s) << s.err().message;
        apply(m, run, events);
        check_bounds(*t, p);
    }

    void read() {
        auto [t, p] = pick_partition();
        const model_partition& m = t->partitions[p];
        const uint64_t from = uniform64(m.start > 3 ? m.start - 3 : 0, m.end + 3);
        const uint32_t max_events = static_cast<uint32_t>(chance(5) ? 0 : uniform(1, 20));
        size_t max_bytes = 0;
        switch (uniform(0, 5)) {
            case 4:
            case 5: {
                // Exactly the size of the next few records, or one byte less: the edges.
                max_bytes = 0;
                int k = uniform(1, 6);
                for (auto it = m.records.lower_bound(std::max(from, m.start));
                     it != m.records.end() && k > 0; ++it, --k) {
                    max_bytes += it->second.size();
                }
                if (chance(50) && max_bytes > 0) --max_bytes;
                break;
            }
            case 0:
                max_bytes = 0;
                break;
            case 1:
                max_bytes = static_cast<size_t>(uniform(1, 500));
                break;
            case 2:
                max_bytes = static_cast<size_t>(uniform(500, 8000));
                break;
            default:
                max_bytes = SIZE_MAX;
                break;
        }
        std::vector<std::byte> buffer(3, std::byte{1});  // replaced, not appended to
        auto r = store_->read(t->meta.id, p, from, max_events, max_bytes, buffer);
        ASSERT_TRUE(r) << r.err().message;

        std::vector<std::byte> expected;
        uint32_t count = 0;
        if (max_events > 0) {
            for (auto it = m.records.lower_bound(std::max(from, m.start)); it != m.records.end();
                 ++it) {
                if (count >= max_events) break;
                if (count > 0 && expected.size() + it->second.size() > max_bytes) break;
                expected.insert(expected.end(), it->second.begin(), it->second.end());
                ++count;
            }
        }
        SCOPED_TRACE("read " + t->meta.config.name + "/" + std::to_string(p) + " from " +
                     std::to_string(from) + " max_events " + std::to_string(max_events) +
                     " max_bytes " + std::to_string(max_bytes));
        EXPECT_EQ(r->start_offset, m.start);
        EXPECT_EQ(r->end_offset, m.end);
        EXPECT_EQ(r->count, count);
        EXPECT_EQ(r->bytes, expected.size());
        ASSERT_TRUE(buffer == expected);
    }

    void lookup() {
        auto [t, p] = pick_partition();
        const model_partition& m = t->partitions[p];
        const uint64_t offset = uniform64(0, m.end + 2);
        auto r = store_->lookup(t->meta.id, p, offset);
        ASSERT_TRUE(r) << r.err().message;
        auto it = m.events.find(offset);
        if (offset < m.start || it == m.events.end()) {
            EXPECT_FALSE(r->has_value()) << "offset " << offset;
            return;
        }
        ASSERT_TRUE(r->has_value()) << "offset " << offset;
        const core::event_record& got = **r;
        const test_event& want = it->second;
        EXPECT_EQ(got.offset, offset);
        EXPECT_EQ(got.partition, p);
        EXPECT_EQ(got.timestamp_ns, want.timestamp_ns);
        EXPECT_EQ(got.key.has_value(), want.has_key);
        if (want.has_key && got.key) {
            EXPECT_EQ(*got.key, want.key);
        }
        EXPECT_EQ(got.payload, want.payload);
        EXPECT_EQ(got.headers, want.headers);
    }

    void time_lookup() {
        auto [t, p] = pick_partition();
        const model_partition& m = t->partitions[p];
        const int64_t ts = static_cast<int64_t>(uniform64(static_cast<uint64_t>(start_clock_ - 100),
                                                          static_cast<uint64_t>(clock_ns_ + 100)));
        uint64_t expected = m.end;
        for (auto it = m.events.lower_bound(m.start); it != m.events.end(); ++it) {
            if (it->second.timestamp_ns >= ts) {
                expected = it->first;
                break;
            }
        }
        auto r = store_->offset_for_timestamp(t->meta.id, p, ts);
        ASSERT_TRUE(r) << r.err().message;
        EXPECT_EQ(*r, expected) << "timestamp " << ts;
    }

    void retention() {
        auto [t, p] = pick_partition();
        model_partition& m = t->partitions[p];
        const uint64_t retention_bytes =
            chance(20) ? UINT64_MAX : uniform64(0, m.bytes + m.bytes / 5);
        int64_t older_than = 0;  // no age limit
        if (chance(15)) {
            older_than = clock_ns_ + 100;  // everything is old: empties the partition
        } else if (chance(40)) {
            older_than = static_cast<int64_t>(uniform64(static_cast<uint64_t>(start_clock_),
                                                        static_cast<uint64_t>(clock_ns_ + 50)));
        }
        size_t drop = 0;
        uint64_t bytes = m.bytes;
        while (drop < m.batches.size()) {
            const model_batch& b = m.batches[drop];
            const bool by_age = older_than != 0 && b.max_timestamp_ns < older_than;
            const bool by_bytes = drop + 1 < m.batches.size() && bytes > retention_bytes;
            if (!by_age && !by_bytes) break;
            bytes -= b.bytes;
            ++drop;
        }
        for (; drop > 0; --drop) {
            const model_batch b = m.batches.front();
            m.batches.pop_front();
            for (uint64_t o = b.base_offset; o < b.base_offset + b.count; ++o) {
                m.records.erase(o);
                m.events.erase(o);
            }
        }
        m.bytes = bytes;
        m.start = m.batches.empty() ? m.end : m.batches.front().base_offset;
        auto r = store_->apply_retention(t->meta.id, p, retention_bytes, older_than);
        ASSERT_TRUE(r) << r.err().message;
        EXPECT_EQ(r->start_offset, m.start);
        EXPECT_EQ(r->end_offset, m.end);
        EXPECT_EQ(r->stored_bytes, m.bytes);
        check_bounds(*t, p);
    }

    void group_offsets() {
        auto [t, p] = pick_partition();
        static const char* const groups[] = {"alpha", "beta", "g.1"};
        const std::string group = groups[uniform(0, 2)];
        if (chance(50)) {
            const uint64_t offset = uniform64(0, 1000);
            ASSERT_TRUE(store_->commit_offset(t->meta.id, group, p, offset, chance(10)));
            t->group_offsets[{group, p}] = offset;
            return;
        }
        auto r = store_->committed_offset(t->meta.id, group, p);
        ASSERT_TRUE(r) << r.err().message;
        auto it = t->group_offsets.find({group, p});
        if (it == t->group_offsets.end()) {
            EXPECT_FALSE(r->has_value());
        } else {
            EXPECT_EQ(*r, std::optional<uint64_t>(it->second));
        }
    }

    void check_bounds(const model_topic& t, uint32_t p) {
        const model_partition& m = t.partitions[p];
        auto b = store_->bounds(t.meta.id, p);
        ASSERT_TRUE(b) << b.err().message;
        EXPECT_EQ(b->start_offset, m.start) << t.meta.config.name << "/" << p;
        EXPECT_EQ(b->end_offset, m.end) << t.meta.config.name << "/" << p;
        EXPECT_EQ(b->stored_bytes, m.bytes) << t.meta.config.name << "/" << p;
    }

    void check_all_bounds() {
        for (const auto& [id, t] : topics_) {
            for (uint32_t p = 0; p < t.meta.config.partitions; ++p) check_bounds(t, p);
        }
    }

    std::mt19937_64 rng_;
    const int ops_;
    temp_dir dir_;
    std::unique_ptr<log_store> store_;
    std::map<uint64_t, model_topic> topics_;
    uint64_t next_topic_id_ = 1;
    const int64_t start_clock_ = 1'000'000;
    int64_t clock_ns_ = start_clock_;
};

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

TEST(log_store_model, random_operations_match_a_map_model) {
    const int ops = env_int("ES_MODEL_OPS", 400);
    std::vector<uint64_t> seeds;
    if (const char* s = std::getenv("ES_SEED"); s && *s) {
        seeds.push_back(std::strtoull(s, nullptr, 10));
    } else {
        for (uint64_t seed = 1; seed <= 6; ++seed) seeds.push_back(seed);
    }
    for (uint64_t seed : seeds) {
        SCOPED_TRACE("seed " + std::to_string(seed) +
                     " (rerun with ES_SEED=" + std::to_string(seed) + ")");
        model_run(seed, ops).run();
        if (HasFatalFailure()) return;
    }
}

}  // namespace
}  // namespace es::storage
