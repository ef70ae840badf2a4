// The REST service's lifecycle: creation, the WebSocket hand-over, the idle-subscription reaper,
// close(), and the node-level routes (/v1/cluster, /v1/metrics, /v1/stream without upgrade).
#include "server/rest_service.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include <latch>
#include <vector>

#include "metrics/prometheus.h"
#include "metrics/registry.h"
#include "server/event_json.h"
#include "server/http_subscription.h"
#include "server/rest_limits.h"
#include "server/websocket_session.h"

namespace es::server {

std::shared_ptr<rest_service> rest_service::create(asio::io_context& io, core::engine& engine,
                                                   admin_pool& admin, metrics::registry* registry,
                                                   rest_options options) {
    std::shared_ptr<rest_service> s(
        new rest_service(io, engine, admin, registry, std::move(options)));
    s->schedule_reap();
    return s;
}

rest_service::rest_service(asio::io_context& io, core::engine& engine, admin_pool& admin,
                           metrics::registry* registry, rest_options options)
    : io_(io),
      engine_(engine),
      admin_(admin),
      options_(std::move(options)),
      metrics_(registry),
      reap_timer_(asio::make_strand(io)) {}

rest_service::~rest_service() = default;

bool rest_service::open() const {
    std::lock_guard lock(mutex_);
    return !closed_;
}

void rest_service::add_routes(http_router& router, const metrics::registry* registry) {
    add_topic_routes(router);
    add_event_routes(router);
    add_subscription_routes(router);
    router.add("GET", "/v1/cluster", [this](const http_request&) {
        nlohmann::json node = {
            {"node_id", options_.node_id},         {"bind", options_.bind},
            {"http_port", options_.http_port},     {"grpc_port", options_.grpc_port},
            {"native_port", options_.native_port}, {"cluster_port", options_.cluster_port},
            {"workers", engine_.worker_count()},   {"state", open() ? "running" : "stopping"}};
        nlohmann::json doc = {{"cluster_id", options_.cluster_json ? "cluster" : "standalone"},
                              {"version", ES_VERSION},
                              {"node_id", options_.node_id},
                              {"nodes", nlohmann::json::array({node})}};
        if (options_.cluster_json) {
            doc["cluster"] = nlohmann::json::parse(options_.cluster_json(), nullptr, false);
        }
        return json_ok(dump_json(doc));
    });
    if (registry != nullptr) {
        router.add("GET", "/v1/metrics", [registry](const http_request&) {
            http_response r;
            r.content_type = metrics::prometheus_content_type;
            metrics::write_prometheus(*registry, r.body);
            return r;
        });
    }
    router.add("GET", websocket_path, [](const http_request&) {
        auto r = json_error(426, "upgrade_required",
                            "/v1/stream is a WebSocket endpoint: send an Upgrade: websocket "
                            "request (RFC 6455)");
        r.headers.emplace_back("Upgrade", "websocket");
        return r;
    });
}

http_upgrade_handler rest_service::websocket_upgrade_handler() {
    std::weak_ptr<rest_service> weak = shared_from_this();
    return [weak](boost::beast::tcp_stream stream,
                  boost::beast::http::request<boost::beast::http::string_body> request) {
        auto self = weak.lock();
        if (!self) return;  // the node is stopping; dropping the stream closes it
        auto session = std::make_shared<websocket_session>(std::move(stream), self);
        session->start(std::move(request));
    };
}

bool rest_service::add_session(const std::shared_ptr<websocket_session>& s) {
    std::lock_guard lock(mutex_);
    if (closed_ || sessions_.size() >= k_websocket_connections_max) return false;
    sessions_.emplace(s.get(), s);
    metrics_.websocket_connections().add(1);
    return true;
}

void rest_service::remove_session(const websocket_session* s) {
    std::lock_guard lock(mutex_);
    if (sessions_.erase(s) > 0) metrics_.websocket_connections().sub(1);
}

std::shared_ptr<http_subscription> rest_service::find_subscription(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto it = subscriptions_.find(id);
    return it == subscriptions_.end() ? nullptr : it->second;
}

void rest_service::schedule_reap() {
    reap_timer_.expires_after(std::chrono::milliseconds(k_subscription_reap_interval_ms));
    reap_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto self = weak.lock()) {
            self->reap();
            if (self->open()) self->schedule_reap();
        }
    });
}

void rest_service::reap() {
    std::vector<std::pair<std::string, std::shared_ptr<http_subscription>>> idle;
    {
        std::lock_guard lock(mutex_);
        for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
            if (it->second->idle_ms() >= k_subscription_idle_ms) {
                idle.emplace_back(it->first, std::move(it->second));
                it = subscriptions_.erase(it);
                metrics_.http_subscriptions().sub(1);
            } else {
                ++it;
            }
        }
    }
    for (auto& [id, s] : idle) {
        spdlog::info("http: subscription {} to {} not polled for {} ms; ended", id, s->topic_name(),
                     k_subscription_idle_ms);
        s->end();
    }
}

void rest_service::close() {
    std::map<std::string, std::shared_ptr<http_subscription>> subscriptions;
    std::vector<std::shared_ptr<websocket_session>> sessions;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        closed_ = true;
        subscriptions.swap(subscriptions_);
        for (auto& [p, weak] : sessions_) {
            if (auto s = weak.lock()) sessions.push_back(std::move(s));
        }
    }
    asio::post(reap_timer_.get_executor(),
               [self = shared_from_this()] { self->reap_timer_.cancel(); });
    for (auto& [id, s] : subscriptions) {
        s->end();
        metrics_.http_subscriptions().sub(1);
    }
    // Sessions unsubscribe on their strands; wait, so that the engine can stop after this.
    std::latch done(static_cast<std::ptrdiff_t>(sessions.size()));
    for (auto& s : sessions) s->shut_down([&done] { done.count_down(); });
    done.wait();
}

}  // namespace es::server
