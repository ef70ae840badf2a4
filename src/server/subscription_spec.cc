// Parsing subscription requests from JSON and from query parameters.
#include "server/subscription_spec.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <limits>

namespace es::server {
namespace {

using json = nlohmann::json;

error bad(std::string_view field, const std::string& what) {
    return make_error(errc::invalid_argument, std::string(field) + ": " + what);
}

result<uint64_t> number_of_text(std::string_view field, std::string_view text, uint64_t max) {
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || n > max) {
        return bad(field, "must be an integer 0.." + std::to_string(max) + ", got '" +
                              std::string(text) + "'");
    }
    return n;
}

result<uint64_t> number_of(std::string_view field, const json& v, uint64_t max) {
    // Parsed text gives unsigned numbers for n >= 0; a built document may hold signed ones.
    const bool non_negative =
        v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
    if (!non_negative || v.get<uint64_t>() > max) {
        return bad(field, "must be an integer 0.." + std::to_string(max) + ", got " + v.dump());
    }
    return v.get<uint64_t>();
}

// Fills spec.start from the textual fields.
status start_of(subscription_spec& spec, std::string_view start,
                const std::optional<uint64_t>& offset, const std::optional<uint64_t>& timestamp_ms,
                std::string_view fallback) {
    using kind = core::start_position::kind;
    if (start == "latest") {
        spec.start = core::start_position::latest();
    } else if (start == "earliest") {
        spec.start = core::start_position::earliest();
    } else if (start == "offset") {
        if (!offset) return bad("offset", "is required with start \"offset\"");
        spec.start = core::start_position::at_offset(*offset);
    } else if (start == "timestamp") {
        if (!timestamp_ms) return bad("timestamp_ms", "is required with start \"timestamp\"");
        spec.start = core::start_position::at_time(static_cast<int64_t>(*timestamp_ms) * 1'000'000);
    } else if (start == "committed") {
        if (spec.group.empty()) return bad("group", "is required with start \"committed\"");
        if (fallback != "latest" && fallback != "earliest") {
            return bad("fallback",
                       "must be \"latest\" or \"earliest\", got '" + std::string(fallback) + "'");
        }
        spec.start =
            core::start_position::committed(fallback == "earliest" ? kind::earliest : kind::latest);
    } else {
        return bad("start", "must be latest, earliest, offset, timestamp or committed, got '" +
                                std::string(start) + "'");
    }
    return {};
}

constexpr uint64_t max_offset = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
constexpr uint64_t max_timestamp_ms = max_offset / 1'000'000;

}  // namespace

result<subscription_spec> subscription_spec_of(
    const json& body, std::initializer_list<std::string_view> allowed_extra) {
    if (!body.is_object()) {
        return bad("body", std::string("must be an object, got ") + body.type_name());
    }
    subscription_spec spec;
    std::string start = "latest";
    std::string fallback = "latest";
    std::optional<uint64_t> offset;
    std::optional<uint64_t> timestamp_ms;
    bool has_topic = false;
    for (const auto& item : body.items()) {
        // Named references, not a structured binding: clang 14 (the fuzz build) cannot capture
        // a binding in the lambda below.
        const std::string& name = item.key();
        const nlohmann::json& value = item.value();
        auto text = [&](std::string& out) -> status {
            if (!value.is_string()) {
                return bad(name, std::string("must be a string, got ") + value.type_name());
            }
            out = value.get<std::string>();
            return {};
        };
        if (name == "topic") {
            ES_TRY(text(spec.topic));
            has_topic = true;
        } else if (name == "group") {
            ES_TRY(text(spec.group));
        } else if (name == "start") {
            ES_TRY(text(start));
        } else if (name == "fallback") {
            ES_TRY(text(fallback));
        } else if (name == "offset") {
            auto n = number_of(name, value, max_offset);
            if (!n) return std::move(n).err();
            offset = *n;
        } else if (name == "timestamp_ms") {
            auto n = number_of(name, value, max_timestamp_ms);
            if (!n) return std::move(n).err();
            timestamp_ms = *n;
        } else if (name == "partitions") {
            if (!value.is_array()) {
                return bad(name, std::string("must be a list, got ") + value.type_name());
            }
            for (const auto& p : value) {
                auto n = number_of("partitions[]", p, std::numeric_limits<uint32_t>::max());
                if (!n) return std::move(n).err();
                spec.partitions.push_back(static_cast<uint32_t>(*n));
            }
        } else {
            bool extra = false;
            for (const auto x : allowed_extra) extra |= x == name;
            if (!extra) return bad(name, "unknown field");
        }
    }
    if (!has_topic) return bad("topic", "is required");
    if (spec.topic.empty()) return bad("topic", "must not be empty");
    ES_TRY(start_of(spec, start, offset, timestamp_ms, fallback));
    return spec;
}

result<subscription_spec> subscription_spec_of_query(
    const std::function<std::optional<std::string>(std::string_view)>& get) {
    subscription_spec spec;
    auto topic = get("topic");
    if (!topic) return bad("topic", "is required");
    if (topic->empty()) return bad("topic", "must not be empty");
    spec.topic = *topic;
    spec.group = get("group").value_or("");
    std::optional<uint64_t> offset;
    std::optional<uint64_t> timestamp_ms;
    if (auto o = get("offset")) {
        auto n = number_of_text("offset", *o, max_offset);
        if (!n) return std::move(n).err();
        offset = *n;
    }
    if (auto t = get("timestamp_ms")) {
        auto n = number_of_text("timestamp_ms", *t, max_timestamp_ms);
        if (!n) return std::move(n).err();
        timestamp_ms = *n;
    }
    if (auto list = get("partitions")) {
        std::string_view rest = *list;
        while (!rest.empty()) {
            const size_t comma = rest.find(',');
            auto n = number_of_text("partitions", rest.substr(0, comma),
                                    std::numeric_limits<uint32_t>::max());
            if (!n) return std::move(n).err();
            spec.partitions.push_back(static_cast<uint32_t>(*n));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
    }
    ES_TRY(start_of(spec, get("start").value_or("latest"), offset, timestamp_ms,
                    get("fallback").value_or("latest")));
    return spec;
}

}  // namespace es::server
