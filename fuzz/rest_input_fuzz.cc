// libFuzzer target for the REST and WebSocket inputs that are not event bodies: the topic body
// of POST /v1/topics (topic_config_of), a subscription as a JSON body or WebSocket message
// (subscription_spec_of) and as /v1/stream's query string (http_request::query_param, then
// subscription_spec_of_query), and an event id of GET /v1/events/{id} (parse_event_id). The
// first byte picks which; the rest is the input.
//
// Checks: nothing throws; every refusal is invalid_argument with a message; an accepted topic
// body keeps the name it was given, and what the engine's rules then accept has a valid name
// and at least one partition; an accepted event id formats back to text
// that parses to the same id; a subscription by query and by the equivalent JSON agree.
// Whole inputs only: the HTTP framing around them is http_request_fuzz's.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "core/event_id.h"
#include "core/topic.h"
#include "fuzz_util.h"
#include "server/http_router.h"
#include "server/subscription_spec.h"
#include "server/topic_json.h"

namespace {

void check_refusal(const es::error& e) {
    ES_ASSERT(e.code == es::errc::invalid_argument);
    ES_ASSERT(!e.message.empty());
}

void topic_body(std::string_view text) {
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return;
    auto c = es::server::topic_config_of(doc);
    if (!c) {
        check_refusal(c.err());
        return;
    }
    ES_ASSERT(doc.is_object() && doc.contains("name") && doc["name"] == c->name);
    // The shape is taken; the rules are the engine's, which a node applies next.
    const es::status valid = es::core::validate_topic_config(*c);
    if (!valid) {
        check_refusal(valid.err());
        return;
    }
    ES_ASSERT(c->partitions >= 1 && es::core::validate_topic_name(c->name));
}

void subscription_body(std::string_view text) {
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return;
    auto s = es::server::subscription_spec_of(doc);
    if (!s) {
        check_refusal(s.err());
        return;
    }
    ES_ASSERT(!s->topic.empty());
}

void subscription_query(std::string_view text) {
    es::server::http_request r;
    const std::string target = "/v1/stream?" + std::string(text);
    r.set_target(target);
    auto get = [&r](std::string_view name) { return r.query_param(name); };
    auto s = es::server::subscription_spec_of_query(get);
    if (!s) {
        check_refusal(s.err());
        return;
    }
    ES_ASSERT(!s->topic.empty());
    // The same subscription as a JSON body, where the query's fields have JSON equivalents.
    nlohmann::json body = {{"topic", s->topic}};
    if (!s->group.empty()) body["group"] = s->group;
    if (!s->partitions.empty()) body["partitions"] = s->partitions;
    auto again = es::server::subscription_spec_of(body);
    ES_ASSERT(again);
    ES_ASSERT(again->topic == s->topic && again->group == s->group &&
              again->partitions == s->partitions);
}

void event_id(std::string_view text) {
    auto id = es::core::parse_event_id(text);
    if (!id) {
        check_refusal(id.err());
        return;
    }
    const std::string formatted = es::core::format_event_id(id->topic, id->partition, id->offset);
    auto back = es::core::parse_event_id(formatted);
    ES_ASSERT(back);
    ES_ASSERT(back->topic == id->topic && back->partition == id->partition &&
              back->offset == id->offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
        case 0:
            topic_body(text);
            break;
        case 1:
            subscription_body(text);
            break;
        case 2:
            subscription_query(text);
            break;
        default:
            event_id(text);
            break;
    }
    return 0;
}
