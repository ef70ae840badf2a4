// The REST API (/v1/...) and the WebSocket stream (/v1/stream) of a node, on top of the engine.
// It owns what outlives one request: long-poll subscriptions (reaped when idle) and WebSocket
// sessions; close() ends them all when the node stops. Routes and message formats: docs/rest.md
// and docs/openapi.yaml.
//
// Threads: handlers run on the Asio io threads. Publishes never block them (backpressure::fail,
// answers handed back from the workers by asio::post). Topic creation and deletion run on the
// node's admin_pool (in a cluster they wait for the controller). Other admin calls (subscribe,
// unsubscribe, read_event, offsets) wait briefly for the workers or the store.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/engine.h"
#include "server/http_listener.h"
#include "server/http_router.h"
#include "server/rest_metrics.h"

namespace es::metrics {
class registry;
}  // namespace es::metrics

namespace es::server {

class admin_pool;
class http_subscription;
class websocket_session;

struct rest_options {
    // For GET /v1/cluster.
    uint32_t node_id = 1;
    std::string bind;        // address the node listens on
    uint16_t http_port = 0;  // ports after port 0 was resolved
    uint16_t grpc_port = 0;
    uint16_t native_port = 0;
    uint16_t cluster_port = 0;
    // Cluster mode: the cluster's view (nodes, controller, partitions and their leaders) as a
    // JSON object, added to GET /v1/cluster as "cluster". Empty for a single node.
    std::function<std::string()> cluster_json;
    // A WebSocket message begun must arrive whole within this long (ms; slowloris guard: Beast's
    // idle timer restarts with every byte).
    uint32_t websocket_message_timeout_ms = 30'000;
};

class rest_service : public std::enable_shared_from_this<rest_service> {
  public:
    // REQUIRES: io, engine, admin and registry (may be null) outlive the service.
    static std::shared_ptr<rest_service> create(asio::io_context& io, core::engine& engine,
                                                admin_pool& admin, metrics::registry* registry,
                                                rest_options options);
    ~rest_service();

    // Adds every /v1 route, and GET /v1/metrics (Prometheus text of `registry`, which must
    // outlive the router). GET /v1/stream without an upgrade answers 426.
    void add_routes(http_router& router, const metrics::registry* registry);
    // The handler for WebSocket upgrades on /v1/stream (http_listener::set_upgrade_handler).
    http_upgrade_handler websocket_upgrade_handler();
    static constexpr const char* websocket_path = "/v1/stream";

    // Ends every long-poll subscription and WebSocket session and stops the reaper; new
    // subscriptions and sessions are refused. Call after the HTTP listener is closed and
    // before the engine stops. REQUIRES: not on an io thread (it waits for the sessions).
    void close();

    // For the pieces in other files.
    core::engine& engine() { return engine_; }
    const rest_options& options() const noexcept { return options_; }
    rest_metrics& metrics() { return metrics_; }
    asio::io_context& io() { return io_; }
    // false once close() began.
    bool open() const;
    // A WebSocket session registers itself; false (refused) when closed or at the limit.
    bool add_session(const std::shared_ptr<websocket_session>& s);
    void remove_session(const websocket_session* s);

  private:
    rest_service(asio::io_context& io, core::engine& engine, admin_pool& admin,
                 metrics::registry* registry, rest_options options);

    void add_topic_routes(http_router& router);
    void add_event_routes(http_router& router);
    void add_subscription_routes(http_router& router);

    void publish(const http_request& request, http_responder respond);
    http_response get_event(const http_request& request);
    http_response subscribe(const http_request& request);
    void poll(const http_request& request, http_responder respond);
    http_response end_subscription(const http_request& request);
    // Runs `work` on the admin pool and answers with what it returns (shutting_down once the
    // pool is closing).
    void run_admin(http_responder respond, std::function<http_response()> work);
    // On the admin pool.
    http_response delete_topic(const std::string& name);

    std::shared_ptr<http_subscription> find_subscription(const std::string& id);
    void schedule_reap();
    void reap();

    asio::io_context& io_;
    core::engine& engine_;
    admin_pool& admin_;
    const rest_options options_;
    rest_metrics metrics_;
    asio::steady_timer reap_timer_;  // used on io threads, cancelled by close()

    mutable std::mutex mutex_;
    bool closed_ = false;                                                      // guarded by mutex_
    std::map<std::string, std::shared_ptr<http_subscription>> subscriptions_;  // guarded by mutex_
    std::map<const websocket_session*, std::weak_ptr<websocket_session>> sessions_;  // ditto
};

}  // namespace es::server
