// Tests of what only es::core::spsc_queue does: front(), and slots that hold an item only while
// it is queued. The contract it shares with mpsc_queue is tested in queue_contract_test.cc.
#include "core/spsc_queue.h"

#include <gtest/gtest.h>

#include "core/tests/queue_test_util.h"

namespace es::core {
namespace {

using test::counted;

TEST(spsc_queue, front_shows_the_oldest_item) {
    spsc_queue<int> q(4);
    EXPECT_EQ(q.front(), nullptr);
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

// Unlike mpsc_queue, whose slots each hold a default item, spsc_queue's slots are raw storage: a
// pop moves the item out and destroys the slot's copy.
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

}  // namespace
}  // namespace es::core
