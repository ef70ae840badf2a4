// The contract that es::core::spsc_queue and es::core::mpsc_queue share, tested once for both:
// capacity, the edges of the ring, ownership of the items, and a one-producer stress run with
// random batch sizes checked item by item. What only one queue does is tested in its own file.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/mpsc_queue.h"
#include "core/spsc_queue.h"
#include "core/tests/queue_test_util.h"

namespace es::core {
namespace {

using test::counted;

// Names a queue template, so that one typed test can make queues of several item types.
template <template <class> class Queue>
struct queue_kind {
    template <class T>
    using of = Queue<T>;
};
using spsc_kind = queue_kind<spsc_queue>;
using mpsc_kind = queue_kind<mpsc_queue>;
using queue_kinds = ::testing::Types<spsc_kind, mpsc_kind>;

// Test names read queue_contract/spsc_queue.<test> rather than queue_contract/0.<test>.
struct queue_kind_name {
    template <class Kind>
    static std::string GetName(int) {
        return std::is_same_v<Kind, spsc_kind> ? "spsc_queue" : "mpsc_queue";
    }
};

// The queue of Kind holding items of type T.
template <class Kind, class T>
using queue_of = typename Kind::template of<T>;

template <class Kind>
class queue_contract : public ::testing::Test {};
template <class Kind>
class queue_contract_death : public ::testing::Test {};
template <class Kind>
class queue_contract_stress : public ::testing::Test {};
TYPED_TEST_SUITE(queue_contract, queue_kinds, queue_kind_name);
TYPED_TEST_SUITE(queue_contract_death, queue_kinds, queue_kind_name);
TYPED_TEST_SUITE(queue_contract_stress, queue_kinds, queue_kind_name);

TYPED_TEST(queue_contract, capacity_rounds_up_to_power_of_two) {
    using queue = queue_of<TypeParam, int>;
    EXPECT_EQ(queue(2).capacity(), 2u);
    EXPECT_EQ(queue(3).capacity(), 4u);
    EXPECT_EQ(queue(5).capacity(), 8u);
    EXPECT_EQ(queue(1000).capacity(), 1024u);
    EXPECT_EQ(queue(1024).capacity(), 1024u);
    EXPECT_EQ(queue(1025).capacity(), 2048u);
    EXPECT_EQ(queue(65537).capacity(), 131072u);
}

TYPED_TEST(queue_contract_death, capacity_below_two_is_a_programmer_error) {
    using queue = queue_of<TypeParam, int>;
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(queue(1), "capacity >= 2");
    EXPECT_DEATH(queue(0), "capacity >= 2");
}

TYPED_TEST(queue_contract, empty_queue_gives_nothing) {
    queue_of<TypeParam, int> q(4);
    int out = -1;
    EXPECT_FALSE(q.try_pop(out));
    EXPECT_EQ(out, -1);
    int batch[4] = {};
    EXPECT_EQ(q.try_pop_batch(batch, 4), 0u);
    EXPECT_EQ(q.size_approx(), 0u);
    EXPECT_TRUE(q.empty_approx());
}

TYPED_TEST(queue_contract, holds_exactly_capacity_items) {
    queue_of<TypeParam, int> q(8);
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

TYPED_TEST(queue_contract, failed_push_leaves_the_item_untouched) {
    queue_of<TypeParam, std::unique_ptr<int>> q(2);
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

TYPED_TEST(queue_contract, failed_batch_push_leaves_the_items_untouched) {
    queue_of<TypeParam, std::unique_ptr<int>> q(2);
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

TYPED_TEST(queue_contract, batch_larger_than_the_ring_fills_it) {
    queue_of<TypeParam, int> q(4);
    std::vector<int> items(10);
    for (int i = 0; i < 10; ++i) items[i] = i;
    EXPECT_EQ(q.try_push_batch(items.data(), items.size()), 4u);
    int got[10];
    ASSERT_EQ(q.try_pop_batch(got, 10), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i], i);
}

TYPED_TEST(queue_contract, fifo_across_many_laps_of_the_ring) {
    queue_of<TypeParam, int> q(4);
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

TYPED_TEST(queue_contract, batch_push_wraps_around_and_stops_at_full) {
    queue_of<TypeParam, int> q(8);
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

TYPED_TEST(queue_contract, batch_pop_takes_at_most_max_and_wraps_around) {
    queue_of<TypeParam, int> q(8);
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(q.try_push(i));
    int got[8];
    ASSERT_EQ(q.try_pop_batch(got, 4), 4u);  // indices now 4/6
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

TYPED_TEST(queue_contract, popped_items_are_not_kept_by_the_queue) {
    counted::reset();
    {
        queue_of<TypeParam, counted> q(4);
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

TYPED_TEST(queue_contract, destructor_destroys_the_items_left) {
    counted::reset();
    {
        queue_of<TypeParam, counted> q(8);
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

TYPED_TEST(queue_contract, destructor_releases_shared_ptrs_left) {
    auto token = std::make_shared<int>(0);
    {
        queue_of<TypeParam, std::shared_ptr<int>> q(4);
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.try_push(token));
        EXPECT_EQ(token.use_count(), 4);
    }
    EXPECT_EQ(token.use_count(), 1);
}

// One producer, one consumer, random batch sizes on both sides, up to twice the ring and more.
template <class Kind>
void one_producer_stress(size_t capacity, uint64_t items, uint32_t seed) {
    test::stress<queue_of<Kind, test::stress_item>>({.capacity = capacity,
                                                     .producers = 1,
                                                     .items_per_producer = items,
                                                     .batch_max = 2 * capacity + 1,
                                                     .seed = seed});
}

TYPED_TEST(queue_contract_stress, random_batches_small_ring) {
    one_producer_stress<TypeParam>(16, test::stress_items(4'000'000), 1);
}

TYPED_TEST(queue_contract_stress, random_batches_large_ring) {
    one_producer_stress<TypeParam>(4096, test::stress_items(16'000'000), 2);
}

}  // namespace
}  // namespace es::core
