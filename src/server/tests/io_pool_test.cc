// Tests of io_pool: connections are spread over the contexts in turn, each context runs on one
// thread of its own, and handlers left on one context holding objects of another are torn down
// safely (run under ASan in scripts/test).
#include "server/io_pool.h"

#include <gtest/gtest.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <thread>

namespace es::server {
namespace {

TEST(io_pool_test, next_takes_the_contexts_in_turn) {
    io_pool pool(3);
    ASSERT_EQ(pool.size(), 3u);
    asio::io_context* first = &pool.next();
    asio::io_context* second = &pool.next();
    asio::io_context* third = &pool.next();
    EXPECT_NE(first, second);
    EXPECT_NE(second, third);
    EXPECT_NE(first, third);
    EXPECT_EQ(&pool.next(), first);
    EXPECT_EQ(&pool.next(), second);
}

TEST(io_pool_test, each_context_runs_on_a_thread_of_its_own_until_stopped) {
    io_pool pool(2);
    EXPECT_FALSE(pool.running());
    pool.start("test-io");
    EXPECT_TRUE(pool.running());
    // A context with no work keeps running: a handler posted later still runs.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto thread_of = [](asio::io_context& io) {
        auto id = std::make_shared<std::promise<std::thread::id>>();
        asio::post(io, [id] { id->set_value(std::this_thread::get_id()); });
        auto f = id->get_future();
        // A context that does not run its handlers fails the test rather than hanging it.
        if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            ADD_FAILURE() << "a handler posted to a running context did not run";
            return std::thread::id();
        }
        return f.get();
    };
    asio::io_context& a = pool.next();
    asio::io_context& b = pool.next();
    const auto a1 = thread_of(a);
    const auto b1 = thread_of(b);
    EXPECT_NE(a1, b1);
    EXPECT_NE(a1, std::this_thread::get_id());
    EXPECT_EQ(thread_of(a), a1);  // a context stays on its thread
    EXPECT_EQ(thread_of(b), b1);
    pool.stop();
    EXPECT_FALSE(pool.running());
    pool.stop();  // idempotent
}

TEST(io_pool_test, handlers_holding_objects_of_another_context_are_destroyed_safely) {
    // A handler pending on each context holds a timer of the other one, as a connection's
    // handler may hold a long poll that lives on first(). Destroying the pool destroys those
    // handlers, and with them the timers, before either context goes away; ASan would report
    // a timer cancelled on a freed context.
    auto pool = std::make_unique<io_pool>(2);
    asio::io_context& a = pool->next();
    asio::io_context& b = pool->next();
    auto timer_on_a = std::make_shared<asio::steady_timer>(a, std::chrono::hours(1));
    auto timer_on_b = std::make_shared<asio::steady_timer>(b, std::chrono::hours(1));
    timer_on_a->async_wait([](const boost::system::error_code&) {});
    timer_on_b->async_wait([](const boost::system::error_code&) {});
    std::weak_ptr<asio::steady_timer> watch_a = timer_on_a;
    std::weak_ptr<asio::steady_timer> watch_b = timer_on_b;
    asio::post(b, [t = std::move(timer_on_a)] {});
    asio::post(a, [t = std::move(timer_on_b)] {});
    pool.reset();  // never started: both handlers are still pending
    EXPECT_TRUE(watch_a.expired());
    EXPECT_TRUE(watch_b.expired());
}

}  // namespace
}  // namespace es::server
