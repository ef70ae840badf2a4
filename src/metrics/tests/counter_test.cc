// Tests of counter and gauge: exact totals across threads and across slot reuse.
#include "metrics/counter.h"

#include <gtest/gtest.h>

#include <latch>
#include <thread>
#include <vector>

#include "metrics/gauge.h"

namespace es::metrics {
namespace {

TEST(counter, starts_at_zero_and_adds) {
    counter c;
    EXPECT_EQ(c.value(), 0u);
    c.inc();
    c.inc(41);
    EXPECT_EQ(c.value(), 42u);
}

TEST(counter, exact_total_across_threads) {
    constexpr int threads = 8;
    constexpr uint64_t per_thread = 1'000'000;
    counter c;
    std::latch start(threads);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            start.arrive_and_wait();  // all threads increment at the same time
            for (uint64_t k = 0; k < per_thread; ++k) {
                c.inc();
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    EXPECT_EQ(c.value(), threads * per_thread);
}

// Threads that exit hand their slot to the next thread; the counts in the slot's shard stay.
TEST(counter, totals_survive_thread_exit_and_slot_reuse) {
    counter c;
    counter other;
    uint64_t expected = 0;
    for (int round = 0; round < 50; ++round) {
        const uint64_t n = 1000 + static_cast<uint64_t>(round);
        std::thread t([&] {
            for (uint64_t k = 0; k < n; ++k) {
                c.inc();
            }
            other.inc(n * 2);
        });
        t.join();
        expected += n;
        ASSERT_EQ(c.value(), expected) << "round " << round;
    }
    EXPECT_EQ(other.value(), 2 * expected);
}

// A reader running while writers add sees a total that never goes down and ends exact.
TEST(counter, concurrent_reads_are_monotonic) {
    constexpr int threads = 4;
    constexpr uint64_t per_thread = 200'000;
    counter c;
    std::atomic<bool> done{false};
    std::thread reader([&] {
        uint64_t last = 0;
        while (!done.load(std::memory_order_acquire)) {
            const uint64_t v = c.value();
            ASSERT_GE(v, last);
            last = v;
        }
    });
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            for (uint64_t k = 0; k < per_thread; ++k) {
                c.inc();
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    done.store(true, std::memory_order_release);
    reader.join();
    EXPECT_EQ(c.value(), threads * per_thread);
}

TEST(gauge, set_add_sub) {
    gauge g;
    EXPECT_EQ(g.value(), 0);
    g.set(10);
    g.add(5);
    g.sub(20);
    EXPECT_EQ(g.value(), -5);

    double_gauge d;
    d.set(1.5);
    d.add(0.25);
    EXPECT_DOUBLE_EQ(d.value(), 1.75);
}

TEST(gauge, adds_from_many_threads_are_exact) {
    constexpr int threads = 4;
    constexpr int per_thread = 100'000;
    gauge g;
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            for (int k = 0; k < per_thread; ++k) {
                g.add(2);
                g.sub(1);
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    EXPECT_EQ(g.value(), threads * per_thread);
}

}  // namespace
}  // namespace es::metrics
