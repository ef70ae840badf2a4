// publish_gate: threads inside hold close() back; once closed nobody gets in, and nothing a
// thread did inside happens after close() returns.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core/publish_gate.h"

namespace es::core {
namespace {

using namespace std::chrono_literals;

TEST(publish_gate, enter_and_leave_while_open_then_refuse_once_closed) {
    publish_gate g;
    ASSERT_TRUE(g.enter());
    g.leave();
    ASSERT_TRUE(g.enter());
    g.leave();
    g.close();
    EXPECT_FALSE(g.enter());
    g.close();  // idempotent
}

TEST(publish_gate, close_waits_for_a_thread_inside) {
    publish_gate g;
    std::atomic<bool> inside{false};
    std::atomic<bool> finished_work{false};
    std::thread t([&] {
        ASSERT_TRUE(g.enter());
        inside = true;
        std::this_thread::sleep_for(50ms);
        finished_work = true;
        g.leave();
    });
    while (!inside) std::this_thread::yield();
    g.close();
    EXPECT_TRUE(finished_work.load());  // close() returned only after the thread left
    t.join();
}

// Many threads enter and leave in a loop, counting their work while inside. After close()
// returns the count never moves again: no thread was inside, and none got in later.
TEST(publish_gate, nothing_happens_inside_after_close_returns) {
    for (int round = 0; round < 20; ++round) {
        publish_gate g;
        std::atomic<uint64_t> work{0};
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) {
            threads.emplace_back([&] {
                while (!stop.load(std::memory_order_relaxed)) {
                    if (!g.enter()) continue;
                    work.fetch_add(1, std::memory_order_relaxed);
                    g.leave();
                }
            });
        }
        // Close only once the threads are really inside and out again (on a loaded machine
        // they may not have run at all after a fixed sleep).
        while (work.load() < 100) std::this_thread::yield();
        g.close();
        const uint64_t at_close = work.load();
        std::this_thread::sleep_for(2ms);
        EXPECT_EQ(work.load(), at_close) << "round " << round;
        stop = true;
        for (auto& t : threads) t.join();
        EXPECT_EQ(work.load(), at_close);
        EXPECT_GT(at_close, 0u);
    }
}

}  // namespace
}  // namespace es::core
