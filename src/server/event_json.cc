// Publish bodies to events, stored events to JSON.
#include "server/event_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <string>

#include "core/event_id.h"
#include "server/base64.h"
#include "server/event_json_direct.h"
#include "server/rest_limits.h"

namespace es::server {
namespace {

using json = nlohmann::json;

const char* type_name(const json& v) {
    return v.type_name();
}

error bad(std::string_view where, std::string_view what) {
    return make_error(errc::invalid_argument, std::string(where) + ": " + std::string(what));
}

// One event object; `where` names it in messages ("events[2]" or "body").
result<decoded_event> decode_event(const json& e, const std::string& where, bool topic_allowed,
                                   std::initializer_list<std::string_view> allowed_extra) {
    if (!e.is_object()) return bad(where, std::string("must be an object, got ") + type_name(e));
    decoded_event out;
    const json* payload = nullptr;
    std::string encoding = "json";
    for (const auto& [name, value] : e.items()) {
        const std::string field = where + "." + name;
        if (name == "payload") {
            payload = &value;
        } else if (name == "key") {
            if (value.is_null()) continue;
            if (!value.is_string()) {
                return bad(field, std::string("must be a string, got ") + type_name(value));
            }
            out.key = value.get<std::string>();
        } else if (name == "encoding") {
            if (!value.is_string() || (value.get_ref<const std::string&>() != "json" &&
                                       value.get_ref<const std::string&>() != "base64")) {
                return bad(field, "must be \"json\" or \"base64\"");
            }
            encoding = value.get<std::string>();
        } else if (name == "headers") {
            if (value.is_null()) continue;
            if (!value.is_object()) {
                return bad(field,
                           std::string("must be an object of strings, got ") + type_name(value));
            }
            if (value.size() > k_event_headers_max) {
                return make_error(errc::too_large,
                                  field + ": at most " + std::to_string(k_event_headers_max) +
                                      " headers, got " + std::to_string(value.size()));
            }
            for (const auto& [hname, hvalue] : value.items()) {
                if (hname.empty() || hname.size() > k_header_name_bytes_max) {
                    return bad(field, "a header name must be 1.." +
                                          std::to_string(k_header_name_bytes_max) + " bytes");
                }
                if (!hvalue.is_string()) {
                    return bad(field + "." + hname,
                               std::string("must be a string, got ") + type_name(hvalue));
                }
                out.headers.emplace_back(hname, hvalue.get<std::string>());
            }
        } else if (name == "topic" && topic_allowed) {
            continue;  // checked by the caller
        } else {
            bool extra = false;
            for (const auto x : allowed_extra) extra |= x == name;
            if (!extra) return bad(field, "unknown field");
        }
    }
    if (payload == nullptr) return bad(where + ".payload", "is required");
    if (encoding == "base64") {
        if (!payload->is_string()) {
            return bad(
                where + ".payload",
                std::string("with encoding base64 must be a string, got ") + type_name(*payload));
        }
        auto bytes = base64_decode(payload->get_ref<const std::string&>());
        if (!bytes) return bad(where + ".payload", "is not valid padded base64");
        out.payload = std::move(*bytes);
    } else {
        out.payload = dump_json(*payload);
    }
    return out;
}

result<std::string> topic_of(const json& e, const std::string& where) {
    const auto it = e.find("topic");
    if (it == e.end()) return bad(where + ".topic", "is required");
    if (!it->is_string()) {
        return bad(where + ".topic", std::string("must be a string, got ") + type_name(*it));
    }
    return it->get<std::string>();
}

error too_many(size_t n) {
    return make_error(errc::too_large, "at most " + std::to_string(k_events_per_request_max) +
                                           " events per request, got " + std::to_string(n));
}

}  // namespace

// Deepest nesting of arrays and objects in `text`, outside strings. A scan is cheaper than a
// parser callback on every token; malformed text is left for the parser to refuse.
static size_t nesting_depth(std::string_view text) {
    size_t depth = 0;
    size_t deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

result<nlohmann::json> parse_json_body(std::string_view text) {
    if (nesting_depth(text) > k_json_depth_max) {
        return make_error(errc::invalid_argument,
                          "body nests deeper than " + std::to_string(k_json_depth_max) + " levels");
    }
    json doc;
    try {
        doc = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        // parse_error, and out_of_range for a number too large for a double ("1e999").
        // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
        std::string what = e.what();
        const auto at = what.find("] ");
        return make_error(
            errc::invalid_argument,
            "body is not valid JSON: " + (at == std::string::npos ? what : what.substr(at + 2)));
    }
    return doc;
}

result<decoded_publish> decode_publish(const nlohmann::json& body,
                                       std::initializer_list<std::string_view> allowed_extra) {
    decoded_publish out;
    if (body.is_array()) {
        out.batch = true;
        if (body.empty()) return bad("body", "an empty list holds no event");
        if (body.size() > k_events_per_request_max) return too_many(body.size());
        for (size_t i = 0; i < body.size(); ++i) {
            const std::string where = "[" + std::to_string(i) + "]";
            const json& e = body[i];
            if (!e.is_object()) {
                return bad(where, std::string("must be an object, got ") + type_name(e));
            }
            auto topic = topic_of(e, where);
            if (!topic) return std::move(topic).err();
            if (i == 0) {
                out.topic = std::move(*topic);
            } else if (*topic != out.topic) {
                return bad(where + ".topic", "every event of a list must name the same topic (\"" +
                                                 out.topic + "\")");
            }
            auto ev = decode_event(e, where, true, {});
            if (!ev) return std::move(ev).err();
            out.events.push_back(std::move(*ev));
        }
        return out;
    }
    if (!body.is_object()) {
        return bad("body", std::string("must be an event object, an object with \"events\" or a "
                                       "list of events, got ") +
                               type_name(body));
    }
    auto topic = topic_of(body, "body");
    if (!topic) return std::move(topic).err();
    out.topic = std::move(*topic);
    const auto events = body.find("events");
    if (events == body.end()) {
        auto ev = decode_event(body, "body", true, allowed_extra);
        if (!ev) return std::move(ev).err();
        out.events.push_back(std::move(*ev));
        return out;
    }
    out.batch = true;
    for (const auto& [name, value] : body.items()) {
        if (name == "topic" || name == "events") continue;
        bool extra = false;
        for (const auto x : allowed_extra) extra |= x == name;
        if (!extra) return bad("body." + name, "unknown field (with \"events\", only \"topic\")");
    }
    if (!events->is_array()) {
        return bad("body.events", std::string("must be a list, got ") + type_name(*events));
    }
    if (events->empty()) return bad("body.events", "is empty");
    if (events->size() > k_events_per_request_max) return too_many(events->size());
    for (size_t i = 0; i < events->size(); ++i) {
        auto ev = decode_event((*events)[i], "events[" + std::to_string(i) + "]", false, {});
        if (!ev) return std::move(ev).err();
        out.events.push_back(std::move(*ev));
    }
    return out;
}

result<decoded_publish> decode_publish_body(std::string_view body) {
    // Most bodies are one plain event: read those without building a document.
    if (auto direct = decode_publish_direct(body)) return std::move(*direct);
    auto doc = parse_json_body(body);
    if (!doc) return std::move(doc).err();
    return decode_publish(*doc);
}

void make_event_views(const decoded_publish& decoded, std::vector<core::header_in>& headers,
                      std::vector<core::event_in>& events) {
    headers.clear();
    events.clear();
    size_t header_count = 0;
    for (const auto& e : decoded.events) header_count += e.headers.size();
    headers.reserve(header_count);  // no reallocation: the events point into it
    events.reserve(decoded.events.size());
    for (const auto& e : decoded.events) {
        const size_t first = headers.size();
        for (const auto& [n, v] : e.headers) headers.push_back({n, v});
        core::event_in in;
        in.has_key = e.key.has_value();
        if (e.key) in.key = *e.key;
        in.payload = e.payload;
        in.headers = std::span<const core::header_in>(headers.data() + first, e.headers.size());
        events.push_back(in);
    }
}

nlohmann::json event_json(std::string_view topic, uint32_t partition, uint64_t offset,
                          int64_t timestamp_ns, const std::optional<std::string>& key,
                          std::string_view payload,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          payload_form form) {
    json doc = json::object();
    doc["id"] = core::format_event_id(topic, partition, offset);
    doc["topic"] = std::string(topic);
    doc["partition"] = partition;
    doc["offset"] = offset;
    doc["timestamp"] = timestamp_ns / 1'000'000;
    doc["timestamp_ns"] = timestamp_ns;
    if (key) doc["key"] = *key;
    bool as_json = false;
    if (form == payload_form::automatic) {
        auto parsed = parse_json_body(payload);
        if (parsed) {
            doc["payload"] = std::move(*parsed);
            as_json = true;
        }
    }
    if (!as_json) {
        doc["payload"] = base64_encode(payload);
        doc["encoding"] = "base64";
    }
    json h = json::object();
    for (const auto& [n, v] : headers) h[n] = v;
    doc["headers"] = std::move(h);
    return doc;
}

nlohmann::json event_json(std::string_view topic, uint32_t partition, const core::event_view& v,
                          payload_form form) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto h : v.headers) headers.emplace_back(h.name, h.value);
    std::optional<std::string> key;
    if (v.has_key) key = std::string(v.key);
    return event_json(topic, partition, v.offset, v.timestamp_ns, key, v.payload, headers, form);
}

std::string dump_json(const nlohmann::json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace es::server
