// io_pool: one io_context per network thread.
#include "server/io_pool.h"

#include <pthread.h>

#include "common/assert.h"

namespace es::server {

io_pool::io_pool(int threads) {
    ES_ASSERT(threads >= 1);
    contexts_.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) {
        // Concurrency hint 1 (context's constructor): a single thread runs this context, so
        // handlers it posts to itself skip the scheduler's lock; posts from other threads
        // still take it.
        contexts_.push_back(std::make_unique<context>());
        work_.emplace_back(contexts_.back()->get_executor());
    }
}

io_pool::~io_pool() {
    stop();
    for (auto& c : contexts_) c->shutdown();
    contexts_.clear();
}

void io_pool::start(const std::string& name) {
    ES_ASSERT(threads_.empty());
    for (size_t i = 0; i < contexts_.size(); ++i) {
        threads_.emplace_back([this, i, thread_name = name + "-" + std::to_string(i)] {
            // Linux limits a thread's name to 15 characters.
            pthread_setname_np(pthread_self(), thread_name.substr(0, 15).c_str());
            contexts_[i]->run();
        });
    }
}

void io_pool::stop() {
    work_.clear();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

asio::io_context& io_pool::next() noexcept {
    return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

}  // namespace es::server
