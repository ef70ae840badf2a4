// Tests of what only es::core::mpsc_queue does: several producers racing one consumer, checked
// per producer for order and exactly-once. The contract it shares with spsc_queue is tested in
// queue_contract_test.cc.
#include "core/mpsc_queue.h"

#include <gtest/gtest.h>

#include "core/tests/queue_test_util.h"

namespace es::core {
namespace {

using stress_queue = mpsc_queue<test::stress_item>;

TEST(mpsc_queue_stress, four_producers_mixed_pushes) {
    test::stress<stress_queue>({.capacity = 1024,
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
    test::stress<stress_queue>({.capacity = 4,
                                .producers = 4,
                                .items_per_producer = test::stress_items(250'000),
                                .batch_max = 16,
                                .seed = 2});
}

}  // namespace
}  // namespace es::core
