// The node's network threads: one io_context per thread, each run by exactly one thread, so a
// connection's handlers never contend for a shared scheduler (the lock and condition variable
// that threads sharing one io_context hand work through).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace es::server {

namespace asio = boost::asio;

// N io_contexts and, once started, N threads ("<name>-0", "<name>-1", ...), each running one.
// New connections are spread over them in turn (next()); a connection stays on its context
// for its life, as an nginx worker keeps its connections. Listening sockets, signals and
// service-wide timers live on first().
class io_pool {
  public:
    // REQUIRES: threads >= 1.
    explicit io_pool(int threads);
    io_pool(const io_pool&) = delete;
    io_pool& operator=(const io_pool&) = delete;
    // Stops and joins, if still running; then destroys every pending handler of every context
    // before destroying any context.
    ~io_pool();

    // Starts the threads. Each context keeps running while it has no work, until stop().
    // REQUIRES: not started yet.
    void start(const std::string& name);
    // Stops every context at once and joins the threads. Handlers not yet run are
    // dropped (their objects destroyed with the contexts). Not on an io thread. Idempotent.
    void stop();

    // The context of the next connection, in turn. Any thread.
    asio::io_context& next() noexcept;
    // The first context: listeners, signals, timers that are not a connection's.
    asio::io_context& first() noexcept { return *contexts_.front(); }
    size_t size() const noexcept { return contexts_.size(); }
    bool running() const noexcept { return !threads_.empty(); }

  private:
    using work_guard = asio::executor_work_guard<asio::io_context::executor_type>;
    // An io_context whose pending handlers can be destroyed before the context itself, so
    // that the pool tears all of them down first: a handler left on one context may hold a
    // socket or timer of another (a long poll on first() held by a connection's handler).
    struct context : asio::io_context {
        context() : asio::io_context(1) {}
        using asio::io_context::shutdown;
    };

    std::vector<std::unique_ptr<context>> contexts_;
    std::vector<work_guard> work_;
    std::vector<std::thread> threads_;
    std::atomic<size_t> next_{0};
};

}  // namespace es::server
