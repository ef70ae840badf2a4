// Tests of the log-linear bucket layout, histogram recording across threads, and the
// quantiles, merging and cumulative counts of histogram_snapshot.
#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace es::metrics {
namespace {

// Values spread over every magnitude of uint64, plus the edges of every power of two.
std::vector<uint64_t> probe_values(int random_count) {
    std::vector<uint64_t> values;
    for (uint64_t v = 0; v < 4096; ++v) {
        values.push_back(v);
    }
    for (unsigned bit = 0; bit < 64; ++bit) {
        const uint64_t p = uint64_t{1} << bit;
        values.push_back(p - 1);
        values.push_back(p);
        values.push_back(p + 1);
    }
    values.push_back(~uint64_t{0});
    std::mt19937_64 rng(42);  // fixed seed: a failure reproduces
    for (int i = 0; i < random_count; ++i) {
        const unsigned bits = static_cast<unsigned>(rng() % 64) + 1;
        values.push_back(rng() >> (64 - bits));
    }
    return values;
}

TEST(histogram_buckets, buckets_tile_the_range_without_gaps) {
    EXPECT_EQ(histogram_bucket_count, 1920u);
    EXPECT_EQ(bucket_lowest(0), 0u);
    for (std::size_t i = 1; i < histogram_bucket_count; ++i) {
        ASSERT_EQ(bucket_lowest(i), bucket_highest(i - 1) + 1) << "bucket " << i;
        ASSERT_EQ(bucket_index(bucket_lowest(i)), i);
        ASSERT_EQ(bucket_index(bucket_highest(i)), i);
    }
    EXPECT_EQ(bucket_highest(histogram_bucket_count - 1), ~uint64_t{0});
}

TEST(histogram_buckets, exact_below_64_and_width_within_1_32_above) {
    for (uint64_t v : probe_values(200'000)) {
        const std::size_t i = bucket_index(v);
        ASSERT_LT(i, histogram_bucket_count);
        const uint64_t lo = bucket_lowest(i);
        const uint64_t hi = bucket_highest(i);
        ASSERT_LE(lo, v);
        ASSERT_GE(hi, v);
        if (v < 64) {
            ASSERT_EQ(lo, hi) << v;
        } else {
            // Width hi - lo + 1 is at most lo / 32: relative error below 3.2%.
            ASSERT_LE(hi - lo, lo / 32) << v;
        }
    }
}

TEST(histogram_snapshot, empty) {
    histogram h;
    const histogram_snapshot s = h.snapshot();
    EXPECT_EQ(s.count(), 0u);
    EXPECT_EQ(s.sum(), 0u);
    EXPECT_EQ(s.min(), 0u);
    EXPECT_EQ(s.max(), 0u);
    EXPECT_EQ(s.mean(), 0.0);
    EXPECT_EQ(s.quantile(0.5), 0u);
}

TEST(histogram_snapshot, quantile_of_a_bucket_is_its_midpoint_within_1_64) {
    // Extreme values around v keep the min/max clamp out of the way.
    for (uint64_t v : probe_values(5'000)) {
        if (v < 1 || v > (~uint64_t{0}) - 1) {
            continue;
        }
        histogram h;
        h.record(0);
        h.record(v);
        h.record(~uint64_t{0});
        const uint64_t q = h.snapshot().quantile(0.5);  // rank 2 of 3
        const uint64_t err = q > v ? q - v : v - q;
        ASSERT_LE(err, v / 64) << "value " << v << " reported as " << q;
    }
}

TEST(histogram_snapshot, small_values_are_exact) {
    histogram h;
    for (uint64_t v = 0; v < 64; ++v) {
        h.record(v);
    }
    const histogram_snapshot s = h.snapshot();
    for (uint64_t k = 1; k <= 64; ++k) {
        // Nearest rank: the k-th smallest of 64 values is k - 1.
        EXPECT_EQ(s.quantile(static_cast<double>(k) / 64.0), k - 1) << k;
    }
}

TEST(histogram_snapshot, quantiles_of_uniform_1_to_100000) {
    histogram h;
    for (uint64_t v = 1; v <= 100'000; ++v) {
        h.record(v);
    }
    const histogram_snapshot s = h.snapshot();
    EXPECT_EQ(s.count(), 100'000u);
    EXPECT_EQ(s.sum(), uint64_t{100'000} * 100'001 / 2);
    EXPECT_EQ(s.min(), 1u);
    EXPECT_EQ(s.max(), 100'000u);
    EXPECT_DOUBLE_EQ(s.mean(), 50'000.5);
    const struct {
        double q;
        double want;
    } cases[] = {{0.5, 50'000}, {0.9, 90'000}, {0.99, 99'000}, {0.999, 99'900}, {0.01, 1'000}};
    for (const auto& c : cases) {
        const double got = static_cast<double>(s.quantile(c.q));
        EXPECT_NEAR(got, c.want, c.want * 0.03) << "q=" << c.q;
        // Midpoints actually do better than the 3% asked for.
        EXPECT_NEAR(got, c.want, c.want / 64 + 1) << "q=" << c.q;
    }
    EXPECT_EQ(s.quantile(0.0), 1u);
    EXPECT_EQ(s.quantile(1.0), 100'000u);
}

TEST(histogram, count_sum_min_max_exact_across_threads) {
    constexpr int threads = 6;
    constexpr uint64_t per_thread = 100'000;
    histogram h;
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
            // Thread i records i*per_thread+1 .. (i+1)*per_thread, in a shuffled order.
            std::vector<uint64_t> values;
            for (uint64_t k = 1; k <= per_thread; ++k) {
                values.push_back(static_cast<uint64_t>(i) * per_thread + k);
            }
            std::shuffle(values.begin(), values.end(), std::mt19937_64(static_cast<uint64_t>(i)));
            for (uint64_t v : values) {
                h.record(v);
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    const uint64_t n = threads * per_thread;
    const histogram_snapshot s = h.snapshot();
    EXPECT_EQ(s.count(), n);
    EXPECT_EQ(s.sum(), n * (n + 1) / 2);
    EXPECT_EQ(s.min(), 1u);
    EXPECT_EQ(s.max(), n);
    EXPECT_NEAR(static_cast<double>(s.quantile(0.5)), n / 2.0, n / 2.0 * 0.03);
}

TEST(histogram_snapshot, merge_equals_recording_into_one) {
    histogram a;
    histogram b;
    histogram both;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 50'000; ++i) {
        const uint64_t v = rng() % 10'000'000;
        (i % 3 == 0 ? a : b).record(v);
        both.record(v);
    }
    b.record(3);  // the minimum lives in b only
    both.record(3);
    histogram_snapshot merged = a.snapshot();
    merged.merge(b.snapshot());
    const histogram_snapshot want = both.snapshot();
    EXPECT_EQ(merged.count(), want.count());
    EXPECT_EQ(merged.sum(), want.sum());
    EXPECT_EQ(merged.min(), 3u);
    EXPECT_EQ(merged.max(), want.max());
    for (std::size_t i = 0; i < histogram_bucket_count; ++i) {
        ASSERT_EQ(merged.bucket(i), want.bucket(i)) << i;
    }
    for (double q : {0.1, 0.5, 0.99, 0.999}) {
        EXPECT_EQ(merged.quantile(q), want.quantile(q));
    }
    // Merging an empty snapshot changes nothing; merging into an empty one copies.
    histogram_snapshot empty;
    empty.merge(merged);
    merged.merge(histogram_snapshot{});
    EXPECT_EQ(empty.count(), merged.count());
    EXPECT_EQ(empty.min(), merged.min());
    EXPECT_EQ(empty.quantile(0.5), merged.quantile(0.5));
}

TEST(histogram_snapshot, cumulative_counts_never_overclaim) {
    histogram h;
    for (uint64_t v = 1; v <= 10'000; ++v) {
        h.record(v);
    }
    const histogram_snapshot s = h.snapshot();
    const std::vector<uint64_t> bounds = {10, 50, 100, 1000, 5000, 20'000};
    std::vector<uint64_t> counts(bounds.size());
    s.cumulative_counts(bounds, counts);
    EXPECT_EQ(counts[0], 10u);  // below 64 every value has its own bucket
    EXPECT_EQ(counts[1], 50u);
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        // Exactly the values <= b, less at most those within 1/32 below b.
        const uint64_t true_count = std::min<uint64_t>(bounds[i], 10'000);
        EXPECT_LE(counts[i], true_count) << bounds[i];
        EXPECT_GE(counts[i], true_count - bounds[i] / 32) << bounds[i];
        if (i > 0) {
            EXPECT_GE(counts[i], counts[i - 1]);
        }
    }
    EXPECT_EQ(counts.back(), s.count());
}

// Snapshots taken while threads record: the count never goes down and always equals the sum
// of the buckets (exercises the lock-free paths under TSan).
TEST(histogram, snapshots_during_records_stay_consistent) {
    constexpr int threads = 3;
    constexpr uint64_t per_thread = 100'000;
    histogram h;
    std::atomic<bool> done{false};
    std::thread reader([&] {
        uint64_t last = 0;
        while (!done.load(std::memory_order_acquire)) {
            const histogram_snapshot s = h.snapshot();
            uint64_t total = 0;
            for (std::size_t i = 0; i < histogram_bucket_count; ++i) {
                total += s.bucket(i);
            }
            ASSERT_EQ(total, s.count());
            ASSERT_GE(s.count(), last);
            last = s.count();
        }
    });
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            for (uint64_t k = 0; k < per_thread; ++k) {
                h.record(k * 37);
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    done.store(true, std::memory_order_release);
    reader.join();
    EXPECT_EQ(h.snapshot().count(), threads * per_thread);
}

}  // namespace
}  // namespace es::metrics
