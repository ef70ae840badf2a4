// Translation between the public client types and the protocol's messages.
#include "client/wire.h"

#include <cstring>

namespace es::client {

namespace {

// The record layout of core/record_format.h, which the protocol carries as it is stored. The
// client reads it without depending on core (ARCHITECTURE.md: client depends on protocol and
// common only); protocol/frame_format.h holds the sizes.
constexpr size_t record_header_bytes = protocol::wire_record_header_bytes;
constexpr size_t record_alignment = protocol::wire_record_alignment;
constexpr uint16_t record_has_key = 1;

template <class T>
T load(const char* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);  // little-endian hosts only, as the server
    return v;
}

constexpr size_t align_up(size_t n) noexcept {
    return (n + record_alignment - 1) & ~(record_alignment - 1);
}

// A record's 32-byte header (core/record_format.h).
struct record_head {
    uint32_t record_bytes = 0;
    uint32_t key_bytes = 0;
    uint32_t payload_bytes = 0;
    uint16_t headers_bytes = 0;
    uint16_t flags = 0;
    int64_t timestamp_ns = 0;
    uint64_t offset = 0;
};

// REQUIRES: record_header_bytes readable at `h`.
record_head read_head(const char* h) noexcept {
    return record_head{load<uint32_t>(h + 0),  load<uint32_t>(h + 4),  load<uint32_t>(h + 8),
                       load<uint16_t>(h + 12), load<uint16_t>(h + 14), load<int64_t>(h + 16),
                       load<uint64_t>(h + 24)};
}

eventstream::error bad(std::string m) {
    return eventstream::error{eventstream::error_code::protocol_error, std::move(m)};
}

}  // namespace

eventstream::error error_from_wire(uint16_t code, std::string message) {
    using eventstream::error_code;
    if (code >= 1 && code <= 12) return {static_cast<error_code>(code), std::move(message)};
    return {error_code::protocol_error,
            "server error code " + std::to_string(code) + ": " + message};
}

protocol::topic_settings to_wire(const eventstream::topic_config& c) {
    protocol::topic_settings s;
    s.name = c.name;
    s.partitions = c.partitions;
    s.storage = static_cast<uint8_t>(c.storage);
    s.replication_factor = c.replication_factor;
    s.retention_bytes = c.retention_bytes;
    s.retention_ms = c.retention_ms;
    s.max_event_bytes = c.max_event_bytes;
    return s;
}

eventstream::topic_info from_wire(const protocol::topic_detail& d) {
    eventstream::topic_info t;
    t.config.name = d.settings.name;
    t.config.partitions = d.settings.partitions;
    t.config.storage = d.settings.storage == 1 ? eventstream::storage_kind::durable
                                               : eventstream::storage_kind::memory;
    t.config.replication_factor = d.settings.replication_factor;
    t.config.retention_bytes = d.settings.retention_bytes;
    t.config.retention_ms = d.settings.retention_ms;
    t.config.max_event_bytes = d.settings.max_event_bytes;
    t.id = d.id;
    for (const auto& p : d.partitions)
        t.partitions.push_back(eventstream::partition_info{
            p.partition, p.leader_node, p.start_offset, p.end_offset, p.stored_bytes});
    return t;
}

protocol::acks_level to_wire(eventstream::acks a) {
    switch (a) {
        case eventstream::acks::none:
            return protocol::acks_level::none;
        case eventstream::acks::leader:
            return protocol::acks_level::leader;
        case eventstream::acks::all:
            return protocol::acks_level::all;
    }
    return protocol::acks_level::leader;
}

protocol::start_kind to_wire(eventstream::start_position::kind k) {
    using K = eventstream::start_position::kind;
    switch (k) {
        case K::earliest:
            return protocol::start_kind::earliest;
        case K::latest:
            return protocol::start_kind::latest;
        case K::offset:
            return protocol::start_kind::offset;
        case K::timestamp:
            return protocol::start_kind::timestamp;
        case K::committed:
            return protocol::start_kind::committed;
    }
    return protocol::start_kind::latest;
}

eventstream::result<std::optional<uint64_t>> check_records(std::string_view records, uint32_t count,
                                                           uint32_t partition) {
    size_t at = 0;
    std::optional<uint64_t> last;
    for (uint32_t i = 0; i < count; ++i) {
        // Named only in an error (building it for every record cost an allocation each).
        auto where = [&] {
            return "record " + std::to_string(i) + " of partition " + std::to_string(partition);
        };
        if (records.size() - at < record_header_bytes) return bad(where() + ": truncated header");
        const char* h = records.data() + at;
        const record_head r = read_head(h);
        const size_t need =
            align_up(record_header_bytes + size_t(r.key_bytes) + r.payload_bytes + r.headers_bytes);
        if (r.record_bytes != need || r.record_bytes > records.size() - at)
            return bad(where() + ": its sizes do not fit");
        const char* p = h + record_header_bytes + r.key_bytes + r.payload_bytes;
        const char* end = p + r.headers_bytes;
        while (p < end) {
            if (end - p < 6) return bad(where() + ": truncated header entry");
            const uint16_t nb = load<uint16_t>(p);
            const uint32_t vb = load<uint32_t>(p + 2);
            p += 6;
            if (size_t(end - p) < size_t(nb) + vb) return bad(where() + ": header runs past");
            p += nb + vb;
        }
        last = r.offset;
        at += r.record_bytes;
    }
    if (at != records.size()) return bad("EVENTS frame holds bytes after its last record");
    return last;
}

size_t decode_record(std::string_view records, size_t at, const std::string& topic,
                     uint32_t partition, eventstream::consumer_record& r) {
    const char* h = records.data() + at;
    const record_head head = read_head(h);
    r.kind = eventstream::record_kind::event;
    r.gap_first = 0;  // a reused record may have held a gap notice
    r.gap_last = 0;
    r.topic = topic;
    r.partition = partition;
    r.timestamp_ns = head.timestamp_ns;
    r.offset = head.offset;
    const char* p = h + record_header_bytes;
    if (head.flags & record_has_key) {
        r.key.emplace(p, head.key_bytes);
    } else {
        r.key.reset();
    }
    p += head.key_bytes;
    r.value.assign(p, head.payload_bytes);
    p += head.payload_bytes;
    r.headers.clear();
    const char* end = p + head.headers_bytes;
    while (p < end) {
        const uint16_t nb = load<uint16_t>(p);
        const uint32_t vb = load<uint32_t>(p + 2);
        p += 6;
        eventstream::header hd;
        hd.name.assign(p, nb);
        hd.value.assign(p + nb, vb);
        r.headers.push_back(std::move(hd));
        p += nb + vb;
    }
    return head.record_bytes;
}

size_t event_wire_bytes(const eventstream::event_view& e) noexcept {
    size_t n = record_header_bytes + (e.key ? e.key->size() : 0) + e.value.size();
    for (const auto& h : e.headers) n += 6 + h.name.size() + h.value.size();
    return align_up(n);
}

eventstream::status check_headers(const eventstream::event_view& e) {
    constexpr size_t name_bytes_max = protocol::max_name_bytes;
    constexpr size_t region_bytes_max = protocol::wire_record_headers_bytes_max;
    size_t region = 0;
    for (const auto& h : e.headers) {
        if (h.name.size() > name_bytes_max) {
            return eventstream::error{eventstream::error_code::invalid_argument,
                                      "header name of " + std::to_string(h.name.size()) +
                                          " bytes: at most " + std::to_string(name_bytes_max)};
        }
        region += 6 + h.name.size() + h.value.size();
    }
    if (region > region_bytes_max) {
        return eventstream::error{eventstream::error_code::invalid_argument,
                                  "the headers take " + std::to_string(region) +
                                      " bytes: at most " + std::to_string(region_bytes_max)};
    }
    return {};
}

size_t event_wire_bytes(const eventstream::event& e) noexcept {
    return event_wire_bytes(eventstream::view_of(e));
}

}  // namespace es::client

namespace eventstream {

const char* error_code_name(error_code c) noexcept {
    switch (c) {
        case error_code::ok:
            return "ok";
        case error_code::invalid_argument:
            return "invalid_argument";
        case error_code::not_found:
            return "not_found";
        case error_code::already_exists:
            return "already_exists";
        case error_code::queue_full:
            return "queue_full";
        case error_code::too_large:
            return "too_large";
        case error_code::shutting_down:
            return "shutting_down";
        case error_code::not_supported:
            return "not_supported";
        case error_code::io_error:
            return "io_error";
        case error_code::timed_out:
            return "timed_out";
        case error_code::config_error:
            return "config_error";
        case error_code::not_leader:
            return "not_leader";
        case error_code::unavailable:
            return "unavailable";
        case error_code::connection_lost:
            return "connection_lost";
        case error_code::closed:
            return "closed";
        case error_code::protocol_error:
            return "protocol_error";
    }
    return "unknown";
}

}  // namespace eventstream
