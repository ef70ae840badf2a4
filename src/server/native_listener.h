// The native protocol's listener on the native port: TCP connections (one native_session
// each) and UDP datagrams (udp_publish_receiver) on the same port number.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "common/result.h"
#include "core/engine.h"
#include "server/accept_loop.h"
#include "server/native_metrics.h"
#include "server/native_options.h"

namespace es::metrics {
class registry;
}  // namespace es::metrics

namespace es::server {

class admin_pool;
class native_session;
struct native_context;
class udp_publish_receiver;

class native_listener {
  public:
    // Takes the bound TCP acceptor and binds UDP on the same address and port; connections
    // spread over the pool's threads, UDP is received on its first context; topic creations
    // and deletions run on `admin`, which must outlive the listener. Error: io_error when the
    // UDP port cannot be bound.
    static result<std::unique_ptr<native_listener>> create(io_pool& pool, admin_pool& admin,
                                                           asio::ip::tcp::acceptor acceptor,
                                                           core::engine& engine,
                                                           native_options options,
                                                           metrics::registry* registry);
    ~native_listener();

    // Starts accepting and receiving. Any thread.
    void start();
    // Stops accepting, tells every connection the node is stopping (ERROR shutting_down),
    // ends their subscriptions and closes them; returns once the subscriptions are ended.
    // REQUIRES: the io_pool is running (not called on one of its threads).
    void close();

    const asio::ip::tcp::endpoint& local_endpoint() const noexcept {
        return loop_->local_endpoint();
    }

  private:
    native_listener(core::engine& engine, admin_pool& admin, native_options options,
                    metrics::registry* registry);
    void on_accept(asio::ip::tcp::socket socket);

    native_metrics metrics_;
    std::shared_ptr<native_context> context_;
    std::unique_ptr<accept_loop> loop_;
    std::unique_ptr<udp_publish_receiver> udp_;

    std::mutex mutex_;
    // Every session, serving or refused (lingering to hand over its ERROR); guarded by mutex_.
    std::map<uint64_t, std::weak_ptr<native_session>> sessions_;
    // The ids of the refused ones among sessions_: they do not count against connections_max.
    std::set<uint64_t> refused_;    // guarded by mutex_
    uint64_t next_session_id_ = 1;  // guarded by mutex_
    bool closed_ = false;           // guarded by mutex_
};

}  // namespace es::server
