// Topic config from JSON, topic description to JSON.
#include "server/topic_json.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <string>

namespace es::server {
namespace {

using json = nlohmann::json;

error bad(const std::string& field, const std::string& what) {
    return make_error(errc::invalid_argument, field + ": " + what);
}

template <class T>
result<T> unsigned_field(const json& v, const std::string& field) {
    if (!v.is_number_integer()) {
        return bad(field, std::string("must be a non-negative integer, got ") + v.type_name());
    }
    if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0) {
        return bad(field, "must be a non-negative integer, got " + v.dump());
    }
    const auto n = v.get<uint64_t>();
    if (n > std::numeric_limits<T>::max()) {
        return bad(field, "must be at most " + std::to_string(std::numeric_limits<T>::max()) +
                              ", got " + std::to_string(n));
    }
    return static_cast<T>(n);
}

}  // namespace

result<core::topic_config> topic_config_of(const json& body) {
    if (!body.is_object()) {
        return bad("body", std::string("must be an object, got ") + body.type_name());
    }
    core::topic_config c;
    bool named = false;
    for (const auto& [name, value] : body.items()) {
        if (name == "name") {
            if (!value.is_string()) {
                return bad("name", std::string("must be a string, got ") + value.type_name());
            }
            c.name = value.get<std::string>();
            named = true;
        } else if (name == "storage") {
            if (!value.is_string()) {
                return bad("storage", std::string("must be \"memory\" or \"durable\", got ") +
                                          value.type_name());
            }
            auto mode = core::parse_storage_mode(value.get<std::string>());
            if (!mode) return bad("storage", mode.err().message);
            c.storage = *mode;
        } else if (name == "partitions") {
            auto n = unsigned_field<uint32_t>(value, name);
            if (!n) return std::move(n).err();
            c.partitions = *n;
        } else if (name == "replication_factor") {
            auto n = unsigned_field<uint32_t>(value, name);
            if (!n) return std::move(n).err();
            c.replication_factor = *n;
        } else if (name == "retention_bytes") {
            auto n = unsigned_field<uint64_t>(value, name);
            if (!n) return std::move(n).err();
            c.retention_bytes = *n;
        } else if (name == "retention_ms") {
            auto n = unsigned_field<uint64_t>(value, name);
            if (!n) return std::move(n).err();
            c.retention_ms = *n;
        } else if (name == "max_event_bytes") {
            auto n = unsigned_field<uint32_t>(value, name);
            if (!n) return std::move(n).err();
            c.max_event_bytes = *n;
        } else {
            return bad(name, "unknown field");
        }
    }
    if (!named) return bad("name", "is required");
    return c;
}

json topic_json(const core::topic_info& info, bool with_partitions) {
    const auto& c = info.config;
    json doc = {{"name", c.name},
                {"id", info.id},
                {"partitions", c.partitions},
                {"storage", core::storage_mode_name(c.storage)},
                {"replication_factor", c.replication_factor},
                {"retention_bytes", c.retention_bytes},
                {"retention_ms", c.retention_ms},
                {"max_event_bytes", c.max_event_bytes}};
    if (with_partitions) {
        json parts = json::array();
        for (const auto& p : info.partitions) {
            parts.push_back({{"partition", p.partition},
                             {"start_offset", p.start_offset},
                             {"end_offset", p.end_offset},
                             {"stored_bytes", p.stored_bytes}});
        }
        doc["partition_detail"] = std::move(parts);
    }
    return doc;
}

}  // namespace es::server
