// Topic admin over REST: POST/GET /v1/topics, GET/DELETE /v1/topics/{name}.
#include <nlohmann/json.hpp>

#include <boost/asio/post.hpp>

#include <string>
#include <vector>

#include "server/event_json.h"
#include "server/http_subscription.h"
#include "server/rest_service.h"
#include "server/topic_json.h"

namespace es::server {

void rest_service::add_topic_routes(http_router& router) {
    router.add_async(
        "POST", "/v1/topics", [this](const http_request& request, http_responder respond) {
            auto body = parse_json_body(request.body);
            if (!body) return respond(json_error(body.err()));
            auto config = topic_config_of(*body);
            if (!config) return respond(json_error(config.err()));
            asio::post(admin_pool_, [self = shared_from_this(), config = std::move(*config),
                                     respond = std::move(respond)] {
                auto info = self->engine_.create_topic(config);
                if (!info) return respond(json_error(info.err()));
                auto r = json_ok(dump_json(topic_json(*info, true)));
                r.status = 201;
                r.headers.emplace_back("Location", "/v1/topics/" + info->config.name);
                respond(std::move(r));
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
            asio::post(admin_pool_,
                       [self = shared_from_this(), name = std::string(request.param("name")),
                        respond = std::move(respond)] { respond(self->delete_topic(name)); });
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
