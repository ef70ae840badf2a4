// Topic admin over REST: POST/GET /v1/topics, GET/DELETE /v1/topics/{name}.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "server/admin_pool.h"
#include "server/event_json.h"
#include "server/http_subscription.h"
#include "server/rest_service.h"
#include "server/topic_json.h"

namespace es::server {

void rest_service::add_topic_routes(http_router& router) {
    router.add_async("POST", "/v1/topics",
                     [this](const http_request& request, http_responder respond) {
                         auto body = parse_json_body(request.body);
                         if (!body) return respond(json_error(body.err()));
                         auto config = topic_config_of(*body);
                         if (!config) return respond(json_error(config.err()));
                         run_admin(std::move(respond), [this, config = std::move(*config)] {
                             auto info = engine_.create_topic(config);
                             if (!info) return json_error(info.err());
                             auto r = json_ok(dump_json(topic_json(*info, true)));
                             r.status = 201;
                             r.headers.emplace_back("Location", "/v1/topics/" + info->config.name);
                             return r;
                         });
                     });
    router.add("GET", "/v1/topics", [this](const http_request&) {
        auto list = nlohmann::json::array();
        for (const auto& info : engine_.list_topics()) list.push_back(topic_json(info, false));
        return json_ok(dump_json({{"topics", std::move(list)}}));
    });
    router.add("GET", "/v1/topics/{name}", [this](const http_request& request) {
        auto info = engine_.describe_topic(request.param("name"));
        if (!info) return json_error(info.err());
        return json_ok(dump_json(topic_json(*info, true)));
    });
    router.add_async(
        "DELETE", "/v1/topics/{name}", [this](const http_request& request, http_responder respond) {
            run_admin(std::move(respond), [this, name = std::string(request.param("name"))] {
                return delete_topic(name);
            });
        });
}

void rest_service::run_admin(http_responder respond, std::function<http_response()> work) {
    // `this` outlives the work: the node closes the pool before it lets the service go.
    admin_.post([respond, work = std::move(work)] { respond(work()); },
                [respond](const error& e) {
                    // A bug's message stays in the log (as on the io threads: http_listener).
                    respond(e.code == errc::shutting_down
                                ? json_error(error{errc::shutting_down,
                                                   "the node is stopping; retry elsewhere"})
                                : json_error(500, "internal", "internal error"));
                });
}

http_response rest_service::delete_topic(const std::string& name) {
    auto deleted = engine_.delete_topic(name);
    if (!deleted) return json_error(deleted.err());
    metrics_.forget_topic(name);
    // The engine has ended their engine subscriptions; end the long polls too.
    std::vector<std::shared_ptr<http_subscription>> ended;
    {
        std::lock_guard lock(mutex_);
        for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
            if (it->second->topic_name() == name) {
                ended.push_back(std::move(it->second));
                it = subscriptions_.erase(it);
                metrics_.http_subscriptions().sub(1);
            } else {
                ++it;
            }
        }
    }
    for (auto& s : ended) s->end();
    return json_ok(dump_json({{"deleted", name}}));
}

}  // namespace es::server
