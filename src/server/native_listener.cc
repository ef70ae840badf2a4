// native_listener: accepting, the session registry and the orderly close.
#include "server/native_listener.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <vector>

#include "server/native_session.h"
#include "server/udp_publish_receiver.h"

namespace es::server {

result<std::unique_ptr<native_listener>> native_listener::create(io_pool& pool, admin_pool& admin,
                                                                 asio::ip::tcp::acceptor acceptor,
                                                                 core::engine& engine,
                                                                 native_options options,
                                                                 metrics::registry* registry) {
    std::unique_ptr<native_listener> l(new native_listener(engine, admin, options, registry));
    const auto endpoint = acceptor.local_endpoint();
    auto udp = udp_publish_receiver::open(pool.first(), endpoint.address(), endpoint.port(), engine,
                                          l->metrics_);
    if (!udp) return std::move(udp).err();
    l->udp_ = std::move(*udp);
    l->context_->port = endpoint.port();
    native_listener* self = l.get();
    l->loop_ = std::make_unique<accept_loop>(
        pool, std::move(acceptor), "native",
        [self](asio::ip::tcp::socket socket) { self->on_accept(std::move(socket)); });
    return l;
}

native_listener::native_listener(core::engine& engine, admin_pool& admin, native_options options,
                                 metrics::registry* registry)
    : metrics_(registry) {
    context_ =
        std::make_shared<native_context>(native_context{engine, options, metrics_, 0, admin, {}});
    context_->on_closed = [this](uint64_t id) {
        metrics_.connections->sub(1);
        std::lock_guard lock(mutex_);
        sessions_.erase(id);
        refused_.erase(id);
    };
}

native_listener::~native_listener() = default;

void native_listener::start() {
    loop_->start();
    udp_->start();
}

void native_listener::on_accept(asio::ip::tcp::socket socket) {
    metrics_.connections_accepted->inc();
    std::shared_ptr<native_session> session;
    bool refuse = false;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;  // the socket closes as it goes
        refuse = sessions_.size() - refused_.size() >= context_->options.connections_max;
        if (refuse && refused_.size() >= k_native_refused_lingering_max) {
            // A storm of connections: these go without an ERROR rather than pile up.
            metrics_.error(native_error_kind::connections_max).inc();
            return;  // the socket closes as it goes
        }
        const uint64_t id = next_session_id_++;
        session = std::make_shared<native_session>(std::move(socket), context_, id);
        sessions_.emplace(id, session);
        if (refuse) refused_.insert(id);
    }
    metrics_.connections->add(1);
    if (refuse) {
        metrics_.error(native_error_kind::connections_max).inc();
        session->refuse(
            make_error(errc::queue_full, "the node has too many native connections (" +
                                             std::to_string(context_->options.connections_max) +
                                             "); retry later"));
        return;
    }
    session->start();
}

void native_listener::close() {
    loop_->close();
    udp_->close();
    std::vector<std::shared_ptr<native_session>> live;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        for (auto& [id, weak] : sessions_) {
            if (auto s = weak.lock()) live.push_back(std::move(s));
        }
    }
    // Each session ends its subscriptions on its io thread; wait for all of them, so that the
    // engine stops with no sink of ours left in it.
    struct latch {
        std::mutex m;
        std::condition_variable cv;
        size_t left = 0;  // guarded by m
    };
    auto done = std::make_shared<latch>();
    done->left = live.size();
    for (auto& s : live) {
        s->shut_down([done] {
            std::lock_guard lock(done->m);
            if (--done->left == 0) done->cv.notify_all();
        });
    }
    std::unique_lock lock(done->m);
    if (!done->cv.wait_for(lock, std::chrono::seconds(10), [&] { return done->left == 0; })) {
        spdlog::warn("native: {} connection(s) did not end their subscriptions in time",
                     done->left);
    }
}

}  // namespace es::server
