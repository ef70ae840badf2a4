// Tests of io_inbox: answers pushed from many threads all run once, on the context's thread,
// each thread's in the order it pushed them; a burst takes fewer posts than answers; answers
// left when the context shuts down are destroyed without running (run under ASan and TSan in
// scripts/test).
#include "server/io_inbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "server/io_pool.h"

namespace es::server {
namespace {

TEST(io_inbox_test, answers_from_many_threads_run_once_in_each_threads_order) {
    io_pool pool(1);
    pool.start("inbox-test");
    asio::io_context& io = pool.first();
    io_inbox& inbox = inbox_of(io.get_executor());
    EXPECT_EQ(&inbox_of(io.get_executor()), &inbox);  // one per context

    constexpr int threads = 4;
    constexpr int per_thread = 20000;
    // Written on the context's thread only.
    std::vector<int> last(threads, -1);
    std::atomic<int> ran{0};
    std::atomic<int> out_of_order{0};
    std::atomic<int> off_thread{0};
    auto context_thread = std::make_shared<std::promise<std::thread::id>>();
    asio::post(io, [context_thread] { context_thread->set_value(std::this_thread::get_id()); });
    const std::thread::id io_thread = context_thread->get_future().get();

    std::vector<std::thread> pushers;
    for (int t = 0; t < threads; ++t) {
        pushers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                inbox.post([&, t, i] {
                    if (std::this_thread::get_id() != io_thread) off_thread++;
                    if (last[t] != i - 1) out_of_order++;
                    last[t] = i;
                    ran++;
                });
            }
        });
    }
    for (auto& p : pushers) p.join();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (ran.load() < threads * per_thread && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    pool.stop();
    EXPECT_EQ(ran.load(), threads * per_thread);
    EXPECT_EQ(out_of_order.load(), 0);
    EXPECT_EQ(off_thread.load(), 0);
}

TEST(io_inbox_test, a_burst_pushed_while_the_thread_is_busy_runs_after_one_post) {
    io_pool pool(1);
    pool.start("inbox-test");
    asio::io_context& io = pool.first();
    io_inbox& inbox = inbox_of(io.get_executor());
    // Keep the context's thread busy while answers are pushed: they wait in the inbox, and
    // the first drain runs all of them at once.
    std::promise<void> release;
    auto released = release.get_future().share();
    std::promise<void> blocking;
    asio::post(io, [&] {
        blocking.set_value();
        released.wait();
    });
    blocking.get_future().wait();
    std::vector<int> order;  // on the context's thread
    for (int i = 0; i < 50; ++i) inbox.post([&order, i] { order.push_back(i); });
    // A handler posted between two halves of the burst. The first push posted the drain,
    // ahead of it; the drain takes everything pushed until it runs, the second half too.
    // (Answers posted one by one would let it see only the first half.)
    std::promise<size_t> between;
    asio::post(io, [&] { between.set_value(order.size()); });
    for (int i = 50; i < 100; ++i) inbox.post([&order, i] { order.push_back(i); });
    release.set_value();
    auto f = between.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(f.get(), 100u);
    std::promise<void> done;
    asio::post(io, [&] { done.set_value(); });
    done.get_future().wait();
    ASSERT_EQ(order.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
    pool.stop();
}

TEST(io_inbox_test, answers_left_at_shutdown_are_destroyed_without_running) {
    auto held = std::make_shared<int>(7);
    std::atomic<bool> ran{false};
    {
        io_pool pool(1);  // never started: nothing runs
        io_inbox& inbox = inbox_of(pool.first().get_executor());
        inbox.post([held, &ran] { ran = true; });
        EXPECT_EQ(held.use_count(), 2);
    }
    EXPECT_FALSE(ran.load());
    EXPECT_EQ(held.use_count(), 1);  // the answer's captures were destroyed
}

}  // namespace
}  // namespace es::server
