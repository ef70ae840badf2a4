// Native protocol messages to and from engine types.
#include "server/native_convert.h"

#include <algorithm>

namespace es::server {

result<core::topic_config> topic_config_of(const protocol::topic_settings& s) {
    core::topic_config c;
    c.name = s.name;
    c.partitions = s.partitions;
    if (s.storage > 1) {
        return make_error(
            errc::invalid_argument,
            "storage: must be 0 (memory) or 1 (durable), got " + std::to_string(s.storage));
    }
    c.storage = s.storage == 1 ? core::storage_mode::durable : core::storage_mode::memory;
    c.replication_factor = s.replication_factor;
    if (s.retention_bytes != 0) c.retention_bytes = s.retention_bytes;
    c.retention_ms = s.retention_ms;
    if (s.max_event_bytes != 0) c.max_event_bytes = s.max_event_bytes;
    return c;
}

protocol::topic_detail topic_detail_of(const core::topic_info& info,
                                       const std::vector<uint32_t>& leaders) {
    protocol::topic_detail d;
    d.settings.name = info.config.name;
    d.settings.partitions = info.config.partitions;
    d.settings.storage = info.config.storage == core::storage_mode::durable ? 1 : 0;
    d.settings.replication_factor = static_cast<uint8_t>(info.config.replication_factor);
    d.settings.retention_bytes = info.config.retention_bytes;
    d.settings.retention_ms = info.config.retention_ms;
    d.settings.max_event_bytes = info.config.max_event_bytes;
    d.id = info.id;
    d.partitions.reserve(info.partitions.size());
    for (size_t i = 0; i < info.partitions.size(); ++i) {
        const core::partition_info& p = info.partitions[i];
        d.partitions.push_back(
            {p.partition, leaders.at(i), p.start_offset, p.end_offset, p.stored_bytes});
    }
    return d;
}

core::start_position start_position_of(const protocol::subscribe_request& s) {
    using kind = core::start_position::kind;
    auto kind_of = [](protocol::start_kind k) {
        switch (k) {
            case protocol::start_kind::earliest:
                return kind::earliest;
            case protocol::start_kind::latest:
                return kind::latest;
            case protocol::start_kind::offset:
                return kind::offset;
            case protocol::start_kind::timestamp:
                return kind::timestamp;
            case protocol::start_kind::committed:
                return kind::committed;
        }
        return kind::latest;
    };
    core::start_position p;
    p.where = kind_of(s.start);
    p.value = s.start_value;
    p.fallback = kind_of(s.fallback);
    return p;
}

void make_publish_views(const protocol::publish_request& request, publish_views& out) {
    out.headers.clear();
    out.events.clear();
    out.headers.reserve(request.headers.size());
    for (const protocol::wire_header& h : request.headers) out.headers.push_back({h.name, h.value});
    out.events.reserve(request.events.size());
    for (const protocol::wire_event& e : request.events) {
        core::event_in in;
        in.key = e.key;
        in.has_key = e.has_key;
        in.payload = e.payload;
        in.headers =
            std::span<const core::header_in>(out.headers).subspan(e.first_header, e.header_count);
        in.timestamp_ns = e.timestamp_ns;
        out.events.push_back(in);
    }
}

protocol::publish_ack publish_ack_of(std::vector<core::publish_outcome> outcomes,
                                     bool offset_unknown) {
    // One partition's batches come in the order of its events (one worker appends them in
    // turn); kept so (an offset sort would misplace a duplicate whose offset is forgotten).
    std::stable_sort(outcomes.begin(), outcomes.end(),
                     [](const auto& a, const auto& b) { return a.partition < b.partition; });
    protocol::publish_ack ack;
    ack.batches.reserve(outcomes.size());
    for (const core::publish_outcome& o : outcomes) {
        const bool known = !o.duplicate || o.known_offset;
        // An older client takes duplicate 1 with base_offset 0 for an unknown offset.
        ack.batches.push_back({o.partition, known ? o.base_offset : 0, o.count, o.duplicate,
                               known || !offset_unknown});
    }
    return ack;
}

}  // namespace es::server
