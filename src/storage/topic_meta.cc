// Topic metadata to and from JSON.
#include "storage/topic_meta.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>

namespace es::storage {

std::string encode_topic_meta(const stored_topic& t) {
    const core::topic_config& c = t.config;
    nlohmann::json j = {
        {"id", t.id},
        {"name", c.name},
        {"partitions", c.partitions},
        {"storage", core::storage_mode_name(c.storage)},
        {"replication_factor", c.replication_factor},
        {"retention_bytes", c.retention_bytes},
        {"retention_ms", c.retention_ms},
        {"max_event_bytes", c.max_event_bytes},
    };
    return j.dump();
}

namespace {

error bad(std::string_view what) {
    return make_error(errc::io_error, "corrupt topic metadata: " + std::string(what));
}

// The unsigned field `name` of `j`, at most `max`.
result<uint64_t> get_unsigned(const nlohmann::json& j, const char* name, uint64_t max) {
    const auto it = j.find(name);
    if (it == j.end()) return bad(std::string("no field '") + name + "'");
    if (!it->is_number_unsigned()) return bad(std::string("'") + name + "' is not a number >= 0");
    const auto v = it->get<uint64_t>();
    if (v > max) return bad(std::string("'") + name + "' is too large: " + std::to_string(v));
    return v;
}

}  // namespace

result<stored_topic> decode_topic_meta(std::string_view text) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    stored_topic t;
    const auto name = j.find("name");
    if (name == j.end() || !name->is_string()) return bad("no string field 'name'");
    t.config.name = name->get<std::string>();
    const auto storage = j.find("storage");
    if (storage == j.end() || !storage->is_string()) return bad("no string field 'storage'");
    auto mode = core::parse_storage_mode(storage->get<std::string>());
    if (!mode) return bad(mode.err().message);
    t.config.storage = *mode;

    constexpr uint64_t u32_max = std::numeric_limits<uint32_t>::max();
    constexpr uint64_t u64_max = std::numeric_limits<uint64_t>::max();
    auto id = get_unsigned(j, "id", u64_max);
    if (!id) return std::move(id).err();
    t.id = *id;
    auto partitions = get_unsigned(j, "partitions", core::max_partitions);
    if (!partitions) return std::move(partitions).err();
    if (*partitions == 0) return bad("'partitions' is 0");
    t.config.partitions = static_cast<uint32_t>(*partitions);
    auto replication = get_unsigned(j, "replication_factor", u32_max);
    if (!replication) return std::move(replication).err();
    t.config.replication_factor = static_cast<uint32_t>(*replication);
    auto retention_bytes = get_unsigned(j, "retention_bytes", u64_max);
    if (!retention_bytes) return std::move(retention_bytes).err();
    t.config.retention_bytes = *retention_bytes;
    auto retention_ms = get_unsigned(j, "retention_ms", u64_max);
    if (!retention_ms) return std::move(retention_ms).err();
    t.config.retention_ms = *retention_ms;
    auto max_event_bytes = get_unsigned(j, "max_event_bytes", u32_max);
    if (!max_event_bytes) return std::move(max_event_bytes).err();
    t.config.max_event_bytes = static_cast<uint32_t>(*max_event_bytes);
    return t;
}

}  // namespace es::storage
