// Unit and stress tests for es::core::mpsc_queue: edges of the ring, ownership of the items and
// several producers racing one consumer, checked per producer for order and exactly-once.
#include "core/mpsc_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/tests/queue_test_util.h"

namespace es::core {
namespace {

using test::counted;

TEST(mpsc_queue, capacity_rounds_up_to_power_of_two) {
    EXPECT_EQ(mpsc_queue<int>(2).capacity(), 2u);
    EXPECT_EQ(mpsc_queue<int>(3).capacity(), 4u);
    EXPECT_EQ(mpsc_queue<int>(1000).capacity(), 1024u);
    EXPECT_EQ(mpsc_queue<int>(1024).capacity(), 1024u);
    EXPECT_EQ(mpsc_queue<int>(65537).capacity(), 131072u);
}

TEST(mpsc_queue_death, capacity_below_two_is_a_programmer_error) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(mpsc_queue<int>(1), "capacity >= 2");
    EXPECT_DEATH(mpsc_queue<int>(0), "capacity >= 2");
}

TEST(mpsc_queue, empty_queue_gives_nothing) {
    mpsc_queue<int> q(4);
    int out = -1;
    EXPECT_FALSE(q.try_pop(out));
    EXPECT_EQ(out, -1);
    int batch[4] = {};
    EXPECT_EQ(q.try_pop_batch(batch, 4), 0u);
    EXPECT_EQ(q.size_approx(), 0u);
    EXPECT_TRUE(q.empty_approx());
}

TEST(mpsc_queue, holds_exactly_capacity_items) {
    mpsc_queue<int> q(8);
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(q.try_push(i)) << i;
        EXPECT_EQ(q.size_approx(), static_cast<size_t>(i + 1));
    }
    EXPECT_FALSE(q.try_push(99));
    EXPECT_EQ(q.size_approx(), 8u);

    int out = -1;
    ASSERT_TRUE(q.try_pop(out));
    EXPECT_EQ(out, 0);
    EXPECT_TRUE(q.try_push(8));
    EXPECT_FALSE(q.try_push(9));

    for (int i = 1; i <= 8; ++i) {
        ASSERT_TRUE(q.try_pop(out));
        EXPECT_EQ(out, i);
    }
    EXPECT_FALSE(q.try_pop(out));
    EXPECT_EQ(q.size_approx(), 0u);
}

TEST(mpsc_queue, failed_push_leaves_the_item_untouched) {
    mpsc_queue<std::unique_ptr<int>> q(2);
    ASSERT_TRUE(q.try_push(std::make_unique<int>(1)));
    ASSERT_TRUE(q.try_push(std::make_unique<int>(2)));

    auto item = std::make_unique<int>(3);
    int* const raw = item.get();
    EXPECT_FALSE(q.try_push(std::move(item)));
    ASSERT_EQ(item.get(), raw);
    EXPECT_EQ(*item, 3);

    std::unique_ptr<int> out;
    ASSERT_TRUE(q.try_pop(out));
    EXPECT_EQ(*out, 1);
    EXPECT_TRUE(q.try_push(std::move(item)));
    EXPECT_EQ(item, nullptr);
}

TEST(mpsc_queue, failed_batch_push_leaves_the_items_untouched) {
    mpsc_queue<std::unique_ptr<int>> q(2);
    std::unique_ptr<int> items[3];
    for (int i = 0; i < 3; ++i) items[i] = std::make_unique<int>(i);
    ASSERT_EQ(q.try_push_batch(items, 3), 2u);
    EXPECT_EQ(items[0], nullptr);
    EXPECT_EQ(items[1], nullptr);
    ASSERT_NE(items[2], nullptr);
    EXPECT_EQ(*items[2], 2);

    EXPECT_EQ(q.try_push_batch(items + 2, 1), 0u);
    ASSERT_NE(items[2], nullptr);
    EXPECT_EQ(*items[2], 2);
    EXPECT_EQ(q.try_push_batch(items, 0), 0u);
}

TEST(mpsc_queue, batch_larger_than_the_ring_fills_it) {
    mpsc_queue<int> q(4);
    std::vector<int> items(10);
    for (int i = 0; i < 10; ++i) items[i] = i;
    EXPECT_EQ(q.try_push_batch(items.data(), items.size()), 4u);
    int got[10];
    ASSERT_EQ(q.try_pop_batch(got, 10), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i], i);
}

TEST(mpsc_queue, fifo_across_many_laps_of_the_ring) {
    mpsc_queue<int> q(4);
    int next_in = 0;
    int next_out = 0;
    std::mt19937 rng(7);
    for (int round = 0; round < 2000; ++round) {
        const int pushes = static_cast<int>(rng() % 5);
        for (int i = 0; i < pushes; ++i) {
            if (q.try_push(next_in)) ++next_in;
        }
        const int pops = static_cast<int>(rng() % 5);
        for (int i = 0; i < pops; ++i) {
            int out;
            if (!q.try_pop(out)) break;
            ASSERT_EQ(out, next_out++);
        }
        ASSERT_EQ(q.size_approx(), static_cast<size_t>(next_in - next_out));
    }
    EXPECT_GT(next_in, 1000);
}

TEST(mpsc_queue, batch_push_wraps_around_and_stops_at_full) {
    mpsc_queue<int> q(8);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.try_push(i));
    int out;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.try_pop(out));

    int items[10];
    for (int i = 0; i < 10; ++i) items[i] = 5 + i;
    EXPECT_EQ(q.try_push_batch(items, 10), 6u);  // 8 slots, 2 in use
    EXPECT_EQ(q.size_approx(), 8u);
    EXPECT_EQ(q.try_push_batch(items + 6, 4), 0u);

    int got[16];
    ASSERT_EQ(q.try_pop_batch(got, 16), 8u);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(got[i], 3 + i);
    EXPECT_EQ(q.try_pop_batch(got, 16), 0u);
}

TEST(mpsc_queue, batch_pop_takes_at_most_max_and_wraps_around) {
    mpsc_queue<int> q(8);
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(q.try_push(i));
    int got[8];
    ASSERT_EQ(q.try_pop_batch(got, 4), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i], i);

    int items[6] = {6, 7, 8, 9, 10, 11};
    ASSERT_EQ(q.try_push_batch(items, 6), 6u);  // positions 6..11: slots 6, 7, 0..3
    ASSERT_EQ(q.try_pop_batch(got, 3), 3u);
    EXPECT_EQ(got[0], 4);
    EXPECT_EQ(got[1], 5);
    EXPECT_EQ(got[2], 6);
    ASSERT_EQ(q.try_pop_batch(got, 0), 0u);
    ASSERT_EQ(q.try_pop_batch(got, 8), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(got[i], 7 + i);
}

TEST(mpsc_queue, popped_items_are_not_kept_by_the_queue) {
    counted::reset();
    {
        mpsc_queue<counted> q(4);
        ASSERT_TRUE(q.try_push(counted(1)));
        ASSERT_TRUE(q.try_push(counted(2)));
        ASSERT_TRUE(q.try_push(counted(3)));
        EXPECT_EQ(counted::owned, 3);

        counted out;
        ASSERT_TRUE(q.try_pop(out));
        EXPECT_EQ(out.value, 1);
        EXPECT_EQ(counted::owned, 3);  // moved, not copied: `out` plus two queued

        counted batch[4];
        ASSERT_EQ(q.try_pop_batch(batch, 4), 2u);
        EXPECT_EQ(batch[0].value, 2);
        EXPECT_EQ(batch[1].value, 3);
        EXPECT_EQ(counted::owned, 3);  // all outside the queue now
    }
    EXPECT_EQ(counted::live, 0);
    EXPECT_EQ(counted::owned, 0);
}

TEST(mpsc_queue, destructor_destroys_the_items_left) {
    counted::reset();
    {
        mpsc_queue<counted> q(8);
        for (int i = 1; i <= 8; ++i) ASSERT_TRUE(q.try_push(counted(i)));
        counted out;
        ASSERT_TRUE(q.try_pop(out));
        ASSERT_TRUE(q.try_pop(out));
        ASSERT_TRUE(q.try_push(counted(9)));  // wraps into slot 0
        EXPECT_EQ(counted::owned, 8);         // 7 queued + out
    }
    EXPECT_EQ(counted::live, 0);
    EXPECT_EQ(counted::owned, 0);
}

TEST(mpsc_queue, destructor_releases_shared_ptrs_left) {
    auto token = std::make_shared<int>(0);
    {
        mpsc_queue<std::shared_ptr<int>> q(4);
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.try_push(token));
        EXPECT_EQ(token.use_count(), 4);
    }
    EXPECT_EQ(token.use_count(), 1);
}

// An item carries (producer id, sequence) in `key` and mix64(key) in `check`, so that the
// consumer can check order per producer, exactly-once delivery and the integrity of each slot.
struct stress_item {
    uint64_t key = 0;
    uint64_t check = 0;
};
constexpr int producer_shift = 40;

struct stress_options {
    size_t capacity = 1024;
    int producers = 4;
    uint64_t items_per_producer = 1'000'000;
    size_t batch_max = 64;  // batches are 1..batch_max items; may exceed capacity
    uint32_t seed = 1;
};

// Producers mix blocking single pushes, try_push and try_push_batch of random sizes; the
// consumer mixes try_pop and try_pop_batch of random sizes.
void mpsc_stress(const stress_options& opt) {
    mpsc_queue<stress_item> q(opt.capacity);
    struct checksum {
        uint64_t sum = 0;
        uint64_t xor_keys = 0;
    };
    std::vector<checksum> pushed(opt.producers);
    std::atomic<uint64_t> received{0};
    test::stall_watchdog watchdog("mpsc_stress", received);

    std::vector<std::thread> producers;
    for (int p = 0; p < opt.producers; ++p) {
        producers.emplace_back([&, p] {
            std::mt19937 rng(opt.seed * 1000 + p);
            std::vector<stress_item> buf(opt.batch_max);
            std::vector<stress_item> pending(opt.batch_max);
            checksum sums;
            const auto wait_full = [](unsigned spins) {
                if (spins % 64 == 63) {
                    std::this_thread::yield();
                } else {
                    es::cpu_relax();
                }
            };
            const auto make = [p](uint64_t seq) {
                const uint64_t key = (static_cast<uint64_t>(p) << producer_shift) | seq;
                return stress_item{key, test::mix64(key)};
            };
            uint64_t seq = 0;
            while (seq < opt.items_per_producer) {
                const uint32_t mode = rng() % 4;
                size_t n = 1;
                if (mode == 0) {
                    q.push(make(seq));
                    buf[0] = make(seq);
                } else if (mode == 1) {
                    buf[0] = make(seq);
                    for (unsigned spins = 0; !q.try_push(buf[0]); ++spins) wait_full(spins);
                } else {
                    n = std::min<uint64_t>(1 + rng() % opt.batch_max, opt.items_per_producer - seq);
                    for (size_t i = 0; i < n; ++i) buf[i] = make(seq + i);
                    std::copy_n(buf.begin(), n, pending.begin());
                    size_t done = 0;
                    for (unsigned spins = 0; done < n; ++spins) {
                        const size_t got = q.try_push_batch(pending.data() + done, n - done);
                        if (got == 0) wait_full(spins);
                        done += got;
                    }
                }
                for (size_t i = 0; i < n; ++i) {
                    sums.sum += buf[i].check;
                    sums.xor_keys ^= buf[i].key;
                }
                seq += n;
            }
            pushed[p] = sums;
        });
    }

    const uint64_t total = opt.items_per_producer * opt.producers;
    std::vector<uint64_t> next_seq(opt.producers, 0);
    std::mt19937 rng(opt.seed);
    std::vector<stress_item> buf(opt.batch_max);
    checksum popped;
    uint64_t count = 0;
    int errors = 0;
    unsigned idle = 0;
    while (count < total) {
        size_t got;
        if (rng() % 4 == 0) {
            got = q.try_pop(buf[0]) ? 1 : 0;
        } else {
            got = q.try_pop_batch(buf.data(), 1 + rng() % buf.size());
        }
        if (got == 0) {
            // Five threads share two cores here: let a stalled producer run.
            if (++idle % 64 == 0) std::this_thread::yield();
            continue;
        }
        for (size_t i = 0; i < got; ++i) {
            const stress_item& it = buf[i];
            const uint64_t p = it.key >> producer_shift;
            const uint64_t seq = it.key & ((uint64_t{1} << producer_shift) - 1);
            if (it.check != test::mix64(it.key) || p >= next_seq.size() || seq != next_seq[p]) {
                if (errors++ < 10) {
                    ADD_FAILURE() << "bad item: producer " << p << " seq " << seq
                                  << (p < next_seq.size()
                                          ? " expected " + std::to_string(next_seq[p])
                                          : std::string(" (no such producer)"))
                                  << (it.check != test::mix64(it.key) ? ", bad check word" : "");
                }
            }
            if (p < next_seq.size()) next_seq[p] = seq + 1;
            popped.sum += it.check;
            popped.xor_keys ^= it.key;
        }
        count += got;
        received.store(count, std::memory_order_relaxed);
    }
    for (auto& t : producers) t.join();

    EXPECT_EQ(errors, 0);
    EXPECT_EQ(count, total);
    checksum expected;
    for (const checksum& c : pushed) {
        expected.sum += c.sum;
        expected.xor_keys ^= c.xor_keys;
    }
    EXPECT_EQ(popped.sum, expected.sum);
    EXPECT_EQ(popped.xor_keys, expected.xor_keys);
    for (int p = 0; p < opt.producers; ++p) {
        EXPECT_EQ(next_seq[p], opt.items_per_producer) << "producer " << p;
    }
    stress_item extra;
    EXPECT_FALSE(q.try_pop(extra));
    EXPECT_EQ(q.size_approx(), 0u);
}

TEST(mpsc_queue_stress, four_producers_mixed_pushes) {
    mpsc_stress({.capacity = 1024,
                 .producers = 4,
                 .items_per_producer = test::stress_items(1'000'000),
                 .batch_max = 64,
                 .seed = 1});
}

// A tiny ring with batches up to four times its size keeps the queue full, so producers spend
// their time on the full-queue path, refreshing the cached read index, where they race each
// other. This caught a livelock (hung on every run on a 2-core machine): a producer stored an
// old copy of the read index over a newer one, and every producer then spun forever.
TEST(mpsc_queue_stress, tiny_ring_full_most_of_the_time) {
    mpsc_stress({.capacity = 4,
                 .producers = 4,
                 .items_per_producer = test::stress_items(250'000),
                 .batch_max = 16,
                 .seed = 2});
}

}  // namespace
}  // namespace es::core
