// Answers from worker threads to one network thread's io_context, handed over in bursts.
//
// A worker that finishes a request posts its answer to the connection's thread. Posted one by
// one, each answer takes the io_context's scheduler lock (contended with the network thread,
// which holds it to take its next handler) and, when that thread sleeps in epoll_wait, a
// wake-up. Measured on the HTTP path at 20 000 requests/s: 0.9 futex calls per request, 73 %
// of them contention on that lock (bench/RESULTS.md, 2026-11-30).
//
// Here a worker pushes its answer onto a lock-free list (one CAS) and posts to the io_context
// only when the list was empty: the network thread, when it gets to it, runs every answer
// pushed meanwhile in push order, and the burst costs one post. One inbox per io_context, as
// an Asio service (inbox_of()), so it lives and is shut down with its context.
//
// The answers run on the context's own thread, outside any strand: that is safe because each
// of the node's io_contexts is run by exactly one thread (io_pool), so nothing of a
// connection runs concurrently with them.
#pragma once

#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

#include <atomic>
#include <memory>
#include <utility>

namespace es::server {

class io_inbox : public boost::asio::io_context::service {
  public:
    static inline boost::asio::io_context::id id;

    explicit io_inbox(boost::asio::io_context& io) : service(io), io_(io) {}
    ~io_inbox() override { destroy(head_.exchange(nullptr, std::memory_order_acquire)); }

    // Any thread. Runs f() on the context's thread, after the answers pushed before it.
    template <class F>
    void post(F&& f) {
        auto* n = new fn_node<std::decay_t<F>>(std::forward<F>(f));
        node* old = head_.load(std::memory_order_relaxed);
        do {
            n->next = old;
        } while (!head_.compare_exchange_weak(old, n, std::memory_order_release,
                                              std::memory_order_relaxed));
        // The one that made the list non-empty posts the drain; the drain takes everything
        // pushed until it runs (those who pushed meanwhile found the list non-empty).
        if (old == nullptr) boost::asio::post(io_, [this] { drain(); });
    }

  private:
    struct node {
        node* next = nullptr;
        void (*finish)(node*, bool run) = nullptr;  // runs it (when `run`) and deletes it
    };
    template <class F>
    struct fn_node : node {
        explicit fn_node(F&& fn) : f(std::move(fn)) { finish = &finish_fn; }
        static void finish_fn(node* n, bool run) {
            std::unique_ptr<fn_node> self(static_cast<fn_node*>(n));
            if (run) self->f();
        }
        F f;
    };

    void shutdown() override { destroy(head_.exchange(nullptr, std::memory_order_acquire)); }

    void drain() {
        node* list = head_.exchange(nullptr, std::memory_order_acquire);
        // The list is newest first: reversed, it runs in push order.
        node* in_order = nullptr;
        while (list != nullptr) {
            node* next = list->next;
            list->next = in_order;
            in_order = list;
            list = next;
        }
        while (in_order != nullptr) {
            node* next = in_order->next;
            try {
                in_order->finish(in_order, true);
            } catch (...) {
                destroy(next);  // not leaked; the exception goes to the context's run()
                throw;
            }
            in_order = next;
        }
    }

    static void destroy(node* list) {
        while (list != nullptr) {
            node* next = list->next;
            list->finish(list, false);
            list = next;
        }
    }

    boost::asio::io_context& io_;
    std::atomic<node*> head_{nullptr};
};

// The inbox of the io_context that `executor` (an io_context's, a strand on one, or an
// any_io_executor holding either) runs on. REQUIRES: it runs on an io_context, as every
// executor of the node's connections does (io_pool). Takes the context's service lock: look it
// up once per connection, not per answer.
template <class Executor>
io_inbox& inbox_of(const Executor& executor) {
    auto& context = boost::asio::query(executor, boost::asio::execution::context);
    return boost::asio::use_service<io_inbox>(static_cast<boost::asio::io_context&>(context));
}

}  // namespace es::server
