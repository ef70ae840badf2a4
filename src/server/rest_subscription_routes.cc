// Long-poll subscriptions over REST: POST /v1/topics/subscribe,
// GET /v1/subscriptions/{id}/events, DELETE /v1/subscriptions/{id}.
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <mutex>
#include <random>

#include "server/event_json.h"
#include "server/http_subscription.h"
#include "server/rest_limits.h"
#include "server/rest_service.h"
#include "server/subscription_spec.h"

namespace es::server {
namespace {

using json = nlohmann::json;

// Subscription ids are 128 random bits in hex, so that one client cannot guess another's.
std::string new_subscription_id() {
    static std::mutex mutex;
    static std::mt19937_64 random{std::random_device{}()};
    std::lock_guard lock(mutex);
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(random()),
                  static_cast<unsigned long long>(random()));
    return text;
}

result<uint32_t> uint_param(const http_request& request, std::string_view name, uint32_t dflt,
                            uint32_t min, uint32_t max) {
    const auto text = request.query_param(name);
    if (!text) return dflt;
    uint32_t n = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (text->empty() || ec != std::errc() || end != text->data() + text->size() || n < min ||
        n > max) {
        return make_error(errc::invalid_argument,
                          std::string(name) + ": must be an integer " + std::to_string(min) + ".." +
                              std::to_string(max) + ", got '" + *text + "'");
    }
    return n;
}

}  // namespace

http_response rest_service::subscribe(const http_request& request) {
    auto body = parse_json_body(request.body);
    if (!body) return json_error(body.err());
    auto spec = subscription_spec_of(*body);
    if (!spec) return json_error(spec.err());
    auto topic = engine_.find_topic(spec->topic);
    if (!topic) return json_error(topic.err());
    {
        std::lock_guard lock(mutex_);
        if (closed_) return json_error(make_error(errc::shutting_down, "the node is stopping"));
        if (subscriptions_.size() >= k_http_subscriptions_max) {
            return json_error(make_error(
                errc::too_large, "at most " + std::to_string(k_http_subscriptions_max) +
                                     " long-poll subscriptions at once; delete unused ones"));
        }
    }
    auto sub =
        http_subscription::open(io_, engine_, *topic, spec->group, spec->start, spec->partitions,
                                metrics_.for_topic(spec->topic, transport::http));
    if (!sub) return json_error(sub.err());
    const std::string id = new_subscription_id();
    {
        std::lock_guard lock(mutex_);
        subscriptions_.emplace(id, *sub);
        metrics_.http_subscriptions().add(1);
    }
    json partitions = json::array();
    if (spec->partitions.empty()) {
        for (uint32_t p = 0; p < (*topic)->config.partitions; ++p) partitions.push_back(p);
    } else {
        partitions = spec->partitions;
    }
    json doc = {{"subscription_id", id},
                {"topic", spec->topic},
                {"partitions", std::move(partitions)},
                {"events_url", "/v1/subscriptions/" + id + "/events"},
                {"idle_timeout_ms", k_subscription_idle_ms}};
    if (!spec->group.empty()) doc["group"] = spec->group;
    auto r = json_ok(dump_json(doc));
    r.status = 201;
    return r;
}

void rest_service::poll(const http_request& request, http_responder respond) {
    auto sub = find_subscription(std::string(request.param("id")));
    if (!sub) {
        respond(json_error(404, "not_found",
                           "no subscription '" + std::string(request.param("id")) +
                               "' (never made, deleted, or ended after " +
                               std::to_string(k_subscription_idle_ms) + " ms without a poll)"));
        return;
    }
    auto max = uint_param(request, "max", k_poll_events_default, 1, k_poll_events_max);
    if (!max) return respond(json_error(max.err()));
    auto wait_ms = uint_param(request, "wait_ms", 0, 0, k_poll_wait_ms_max);
    if (!wait_ms) return respond(json_error(wait_ms.err()));
    payload_form form = payload_form::automatic;
    if (const auto e = request.query_param("encoding")) {
        if (*e == "base64") {
            form = payload_form::base64;
        } else if (*e != "auto") {
            return respond(json_error(400, "invalid_argument",
                                      "encoding: must be auto or base64, got '" + *e + "'"));
        }
    }
    sub->poll(*max, *wait_ms, form, std::move(respond));
}

http_response rest_service::end_subscription(const http_request& request) {
    const std::string id(request.param("id"));
    std::shared_ptr<http_subscription> sub;
    {
        std::lock_guard lock(mutex_);
        const auto it = subscriptions_.find(id);
        if (it != subscriptions_.end()) {
            sub = std::move(it->second);
            subscriptions_.erase(it);
            metrics_.http_subscriptions().sub(1);
        }
    }
    if (!sub) return json_error(404, "not_found", "no subscription '" + id + "'");
    sub->end();
    return json_ok(dump_json({{"deleted", id}}));
}

void rest_service::add_subscription_routes(http_router& router) {
    router.add("POST", "/v1/topics/subscribe",
               [this](const http_request& request) { return subscribe(request); });
    router.add_async("GET", "/v1/subscriptions/{id}/events",
                     [this](const http_request& request, http_responder respond) {
                         poll(request, std::move(respond));
                     });
    router.add("DELETE", "/v1/subscriptions/{id}",
               [this](const http_request& request) { return end_subscription(request); });
}

}  // namespace es::server
