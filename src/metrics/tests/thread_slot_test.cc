// Tests of thread slot assignment: stable per thread, distinct among live threads, reused after
// exit, and the shared slot when all are taken.
#include "metrics/thread_slot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <latch>
#include <set>
#include <thread>
#include <vector>

#include "metrics/counter.h"
#include "metrics/histogram.h"

namespace es::metrics {
namespace {

std::size_t slot_of_new_thread() {
    std::size_t slot = 0;
    std::thread t([&] { slot = this_thread_slot(); });
    t.join();
    return slot;
}

TEST(thread_slot, stable_within_a_thread) {
    const std::size_t a = this_thread_slot();
    EXPECT_EQ(this_thread_slot(), a);
    EXPECT_LT(a, max_thread_slots);
}

TEST(thread_slot, freed_when_the_thread_exits_and_reused) {
    (void)this_thread_slot();  // the main thread keeps its slot throughout
    const std::size_t before = thread_slots_in_use();
    const std::size_t first = slot_of_new_thread();
    EXPECT_EQ(thread_slots_in_use(), before);
    // The lowest free slot is taken, so a thread started after the first exited gets its slot.
    EXPECT_EQ(slot_of_new_thread(), first);
    EXPECT_LT(first, thread_slot_high_water());
}

TEST(thread_slot, distinct_among_live_threads) {
    constexpr int threads = 16;
    // Claimed before the others start, so that it cannot take a slot one of them frees.
    const std::size_t main_slot = this_thread_slot();
    std::vector<std::size_t> slots(threads);
    std::latch all_claimed(threads);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
            slots[i] = this_thread_slot();
            all_claimed.arrive_and_wait();  // nobody exits before all have a slot
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    const std::set<std::size_t> unique(slots.begin(), slots.end());
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(threads));
    EXPECT_FALSE(unique.contains(shared_slot));
    EXPECT_FALSE(unique.contains(main_slot));
}

// More live threads than slots: the rest share a slot, and no increment or record is lost.
TEST(thread_slot, threads_beyond_the_slots_share_one_and_lose_nothing) {
    constexpr int threads = static_cast<int>(max_thread_slots) + 40;
    constexpr int per_thread = 1000;
    const std::size_t in_use_before = thread_slots_in_use();
    counter c;
    histogram h;
    std::vector<std::size_t> slots(threads);
    std::latch all_claimed(threads);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
            slots[i] = this_thread_slot();
            all_claimed.arrive_and_wait();
            for (int k = 0; k < per_thread; ++k) {
                c.inc();
                h.record(static_cast<uint64_t>(k));
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    const auto on_shared = std::count(slots.begin(), slots.end(), shared_slot);
    EXPECT_GE(on_shared, threads - static_cast<int>(max_thread_slots));
    EXPECT_EQ(c.value(), uint64_t{threads} * per_thread);
    const histogram_snapshot s = h.snapshot();
    EXPECT_EQ(s.count(), uint64_t{threads} * per_thread);
    EXPECT_EQ(s.sum(), uint64_t{threads} * (per_thread * (per_thread - 1) / 2));
    EXPECT_EQ(s.min(), 0u);
    EXPECT_EQ(s.max(), uint64_t{per_thread - 1});
    EXPECT_EQ(thread_slots_in_use(), in_use_before);
}

}  // namespace
}  // namespace es::metrics
