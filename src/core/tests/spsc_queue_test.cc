// Unit and stress tests for es::core::spsc_queue: edges of the ring, ownership of the items and
// a two-thread run with random batch sizes checked item by item.
#include "core/spsc_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "core/tests/queue_test_util.h"

namespace es::core {
namespace {

using test::counted;

TEST(spsc_queue, capacity_rounds_up_to_power_of_two) {
    EXPECT_EQ(spsc_queue<int>(2).capacity(), 2u);
    EXPECT_EQ(spsc_queue<int>(3).capacity(), 4u);
    EXPECT_EQ(spsc_queue<int>(5).capacity(), 8u);
    EXPECT_EQ(spsc_queue<int>(1000).capacity(), 1024u);
    EXPECT_EQ(spsc_queue<int>(1024).capacity(), 1024u);
    EXPECT_EQ(spsc_queue<int>(1025).capacity(), 2048u);
}

TEST(spsc_queue_death, capacity_below_two_is_a_programmer_error) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(spsc_queue<int>(1), "capacity >= 2");
    EXPECT_DEATH(spsc_queue<int>(0), "capacity >= 2");
}

TEST(spsc_queue, empty_queue_gives_nothing) {
    spsc_queue<int> q(4);
    int out = -1;
    EXPECT_FALSE(q.try_pop(out));
    EXPECT_EQ(out, -1);
    EXPECT_EQ(q.front(), nullptr);
    int batch[4] = {};
    EXPECT_EQ(q.try_pop_batch(batch, 4), 0u);
    EXPECT_EQ(q.size_approx(), 0u);
    EXPECT_TRUE(q.empty_approx());
}

TEST(spsc_queue, holds_exactly_capacity_items) {
    spsc_queue<int> q(8);
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(q.try_push(i)) << i;
        EXPECT_EQ(q.size_approx(), static_cast<size_t>(i + 1));
    }
    EXPECT_FALSE(q.try_push(99));
    EXPECT_EQ(q.size_approx(), 8u);

    // One pop makes room for exactly one push.
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

TEST(spsc_queue, failed_push_leaves_the_item_untouched) {
    spsc_queue<std::unique_ptr<int>> q(2);
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

TEST(spsc_queue, failed_batch_push_leaves_the_items_untouched) {
    spsc_queue<std::unique_ptr<int>> q(2);
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
}

TEST(spsc_queue, fifo_across_many_laps_of_the_ring) {
    spsc_queue<int> q(4);
    int next_in = 0;
    int next_out = 0;
    std::mt19937 rng(7);
    // Random fill levels move the indices around the ring many times.
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

TEST(spsc_queue, front_shows_the_oldest_item) {
    spsc_queue<int> q(4);
    ASSERT_TRUE(q.try_push(10));
    ASSERT_TRUE(q.try_push(11));
    ASSERT_NE(q.front(), nullptr);
    EXPECT_EQ(*q.front(), 10);
    ASSERT_TRUE(q.try_push(12));
    EXPECT_EQ(*q.front(), 10);
    int out;
    ASSERT_TRUE(q.try_pop(out));
    EXPECT_EQ(*q.front(), 11);
    ASSERT_TRUE(q.try_pop(out));
    ASSERT_TRUE(q.try_pop(out));
    EXPECT_EQ(q.front(), nullptr);
}

TEST(spsc_queue, batch_push_wraps_around_and_stops_at_full) {
    spsc_queue<int> q(8);
    // Move the indices to 3/5 so that the free space straddles the end of the ring.
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.try_push(i));
    int out;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.try_pop(out));

    int items[10];
    for (int i = 0; i < 10; ++i) items[i] = 5 + i;
    EXPECT_EQ(q.try_push_batch(items, 10), 6u);  // 8 slots, 2 in use
    EXPECT_EQ(q.size_approx(), 8u);
    EXPECT_EQ(q.try_push_batch(items + 6, 4), 0u);
    EXPECT_EQ(q.try_push_batch(items, 0), 0u);

    int got[16];
    ASSERT_EQ(q.try_pop_batch(got, 16), 8u);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(got[i], 3 + i);
    EXPECT_EQ(q.try_pop_batch(got, 16), 0u);
}

TEST(spsc_queue, batch_pop_takes_at_most_max_and_wraps_around) {
    spsc_queue<int> q(8);
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(q.try_push(i));
    int got[8];
    ASSERT_EQ(q.try_pop_batch(got, 4), 4u);  // indices now 4/6
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i], i);

    int items[6] = {6, 7, 8, 9, 10, 11};
    ASSERT_EQ(q.try_push_batch(items, 6), 6u);  // occupies slots 4..7 and 0..3
    ASSERT_EQ(q.try_pop_batch(got, 3), 3u);
    EXPECT_EQ(got[0], 4);
    EXPECT_EQ(got[1], 5);
    EXPECT_EQ(got[2], 6);
    ASSERT_EQ(q.try_pop_batch(got, 0), 0u);
    ASSERT_EQ(q.try_pop_batch(got, 8), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(got[i], 7 + i);
}

TEST(spsc_queue, pops_move_items_out_and_destroy_the_slot) {
    counted::reset();
    {
        spsc_queue<counted> q(4);
        EXPECT_EQ(counted::live, 0);  // slots are raw storage until pushed
        ASSERT_TRUE(q.try_push(counted(1)));
        ASSERT_TRUE(q.try_push(counted(2)));
        EXPECT_EQ(counted::live, 2);
        EXPECT_EQ(counted::owned, 2);

        counted out;
        ASSERT_TRUE(q.try_pop(out));
        EXPECT_EQ(out.value, 1);
        EXPECT_EQ(counted::live, 2);  // `out` and the one still queued
        EXPECT_EQ(counted::owned, 2);

        counted batch[4];
        ASSERT_EQ(q.try_pop_batch(batch, 4), 1u);
        EXPECT_EQ(batch[0].value, 2);
        EXPECT_EQ(counted::live, 5);  // out + batch[4]; the queue holds none
        EXPECT_EQ(counted::owned, 2);
    }
    EXPECT_EQ(counted::live, 0);
    EXPECT_EQ(counted::owned, 0);
}

TEST(spsc_queue, destructor_destroys_the_items_left) {
    counted::reset();
    {
        spsc_queue<counted> q(8);
        for (int i = 1; i <= 8; ++i) ASSERT_TRUE(q.try_push(counted(i)));
        counted out;
        ASSERT_TRUE(q.try_pop(out));
        ASSERT_TRUE(q.try_pop(out));
        ASSERT_TRUE(q.try_push(counted(9)));  // wraps: slots 2..7 and 0
        EXPECT_EQ(counted::owned, 8);         // 7 queued + out
    }
    EXPECT_EQ(counted::live, 0);
    EXPECT_EQ(counted::owned, 0);
}

TEST(spsc_queue, destructor_releases_shared_ptrs_left) {
    auto token = std::make_shared<int>(0);
    {
        spsc_queue<std::shared_ptr<int>> q(4);
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.try_push(token));
        EXPECT_EQ(token.use_count(), 4);
    }
    EXPECT_EQ(token.use_count(), 1);
}

// Spins briefly, then yields: the two threads may share one core (the machine has two, and
// other work runs too), and a pure spin would then burn a whole time slice per hand-over.
void idle_wait(unsigned& spins) {
    if (++spins % 64 == 0) {
        std::this_thread::yield();
    } else {
        es::cpu_relax();
    }
}

// One producer, one consumer, random batch sizes on both sides (including batches larger than
// the ring); every item is checked in order, and both sides' checksums must agree.
void spsc_stress(size_t capacity, uint64_t items, uint32_t seed) {
    struct item {
        uint64_t seq = 0;
        uint64_t check = 0;  // mix64(seq): a torn or stale slot read would not match
    };
    spsc_queue<item> q(capacity);
    std::atomic<uint64_t> received{0};
    uint64_t pushed_sum = 0;
    uint64_t pushed_xor = 0;

    test::stall_watchdog watchdog("spsc_stress", received);
    std::thread producer([&] {
        std::mt19937 rng(seed);
        std::vector<item> buf(2 * capacity + 1);
        uint64_t seq = 0;
        unsigned full_spins = 0;
        while (seq < items) {
            const uint32_t mode = rng() % 4;
            if (mode == 0) {
                const item it{seq, test::mix64(seq)};
                q.push(it);
                pushed_sum += it.check;
                pushed_xor ^= it.seq;
                ++seq;
                continue;
            }
            if (mode == 1) {
                const item it{seq, test::mix64(seq)};
                if (q.try_push(it)) {
                    pushed_sum += it.check;
                    pushed_xor ^= it.seq;
                    ++seq;
                } else {
                    idle_wait(full_spins);
                }
                continue;
            }
            const size_t n = std::min<uint64_t>(1 + rng() % buf.size(), items - seq);
            for (size_t i = 0; i < n; ++i) buf[i] = item{seq + i, test::mix64(seq + i)};
            size_t done = 0;
            while (done < n) {
                const size_t got = q.try_push_batch(buf.data() + done, n - done);
                if (got == 0) idle_wait(full_spins);
                done += got;
            }
            for (size_t i = 0; i < n; ++i) {
                pushed_sum += buf[i].check;
                pushed_xor ^= buf[i].seq;
            }
            seq += n;
        }
    });

    std::mt19937 rng(seed + 1);
    std::vector<item> buf(2 * capacity + 1);
    uint64_t count = 0;
    uint64_t expected = 0;
    uint64_t popped_sum = 0;
    uint64_t popped_xor = 0;
    int mismatches = 0;
    unsigned empty_spins = 0;
    // Keeps draining after a mismatch (resynchronising on the item seen) so that the producer
    // is never left blocked on a full ring.
    while (count < items) {
        size_t got;
        if (rng() % 4 == 0) {
            got = q.try_pop(buf[0]) ? 1 : 0;
        } else {
            got = q.try_pop_batch(buf.data(), 1 + rng() % buf.size());
        }
        if (got == 0) idle_wait(empty_spins);
        for (size_t i = 0; i < got; ++i) {
            if (buf[i].seq != expected || buf[i].check != test::mix64(buf[i].seq)) {
                if (mismatches++ < 10) {
                    ADD_FAILURE() << "item " << i << " of a batch of " << got << ": seq "
                                  << buf[i].seq << " expected " << expected;
                }
            }
            popped_sum += buf[i].check;
            popped_xor ^= buf[i].seq;
            expected = buf[i].seq + 1;
        }
        count += got;
        received.store(count, std::memory_order_relaxed);
    }
    producer.join();
    EXPECT_EQ(mismatches, 0);
    EXPECT_EQ(expected, items);
    EXPECT_EQ(popped_sum, pushed_sum);
    EXPECT_EQ(popped_xor, pushed_xor);
    item extra;
    EXPECT_FALSE(q.try_pop(extra));
    EXPECT_EQ(q.size_approx(), 0u);
}

TEST(spsc_queue_stress, random_batches_small_ring) {
    spsc_stress(16, test::stress_items(4'000'000), 1);
}

TEST(spsc_queue_stress, random_batches_large_ring) {
    spsc_stress(4096, test::stress_items(16'000'000), 2);
}

}  // namespace
}  // namespace es::core
