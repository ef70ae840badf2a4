// Decoders of every native protocol message (byte layouts in docs/protocol.md). Each reads the
// whole body with a wire_reader, which names the field of the first failure.
#include <cstring>

#include "protocol/codec.h"
#include "protocol/wire_reader.h"

namespace es::protocol {
namespace {

// Smallest encodings of repeated entries, so that a count is checked against the bytes left
// before anything is reserved for it.
constexpr size_t settings_min_bytes = 2 + 4 + 1 + 1 + 8 + 8 + 4;
constexpr size_t partition_detail_bytes = 4 + 4 + 8 + 8 + 8;
constexpr size_t topic_detail_min_bytes = settings_min_bytes + 8 + 4;
constexpr size_t node_min_bytes = 4 + 2 + 2;
constexpr size_t topic_leaders_min_bytes = 2 + 4;
constexpr size_t event_min_bytes = 1 + 8 + 4 + 4 + 2;
constexpr size_t header_min_bytes = 2 + 4;
constexpr size_t batch_ack_bytes = 4 + 8 + 4 + 1;

std::string owned(std::string_view v) {
    return std::string(v);
}

topic_settings read_settings(wire_reader& r) {
    topic_settings s;
    s.name = owned(r.str("name", max_name_bytes));
    s.partitions = r.u32("partitions");
    s.storage = r.enum_u8("storage", 1);
    s.replication_factor = r.u8("replication_factor");
    s.retention_bytes = r.u64("retention_bytes");
    s.retention_ms = r.u64("retention_ms");
    s.max_event_bytes = r.u32("max_event_bytes");
    return s;
}

topic_detail read_detail(wire_reader& r) {
    topic_detail d;
    d.settings = read_settings(r);
    d.id = r.u64("id");
    const uint32_t n = r.count("partitions", partition_detail_bytes);
    d.partitions.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        r.enter("partitions", i);
        partition_detail p;
        p.partition = r.u32("partition");
        p.leader_node = r.u32("leader_node");
        p.start_offset = r.u64("start_offset");
        p.end_offset = r.u64("end_offset");
        p.stored_bytes = r.u64("stored_bytes");
        d.partitions.push_back(p);
        r.leave();
    }
    return d;
}

std::vector<uint32_t> read_u32_list(wire_reader& r, const char* field, uint32_t max_count) {
    std::vector<uint32_t> v;
    const uint32_t n = r.count(field, 4, max_count);
    v.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) v.push_back(r.u32(field));
    return v;
}

// Walks the records of an EVENTS body: each must have a whole header, a size that is a multiple
// of 8 of at least 32 within the bytes left, and key, payload and headers that fit inside it.
void check_records(wire_reader& r, std::string_view records, uint32_t count) {
    size_t at = 0;
    uint32_t seen = 0;
    while (at < records.size() && r.ok()) {
        r.enter("records", seen);
        const size_t left = records.size() - at;
        uint32_t record_bytes = 0, key_bytes = 0, payload_bytes = 0;
        uint16_t headers_bytes = 0;
        if (left < wire_record_header_bytes) {
            r.fail(errc::invalid_argument, "record_bytes", "runs past the end of the frame");
        } else {
            std::memcpy(&record_bytes, records.data() + at, 4);
            std::memcpy(&key_bytes, records.data() + at + 4, 4);
            std::memcpy(&payload_bytes, records.data() + at + 8, 4);
            std::memcpy(&headers_bytes, records.data() + at + 12, 2);
            if (record_bytes < wire_record_header_bytes ||
                record_bytes % wire_record_alignment != 0) {
                r.fail(errc::invalid_argument, "record_bytes",
                       std::to_string(record_bytes) + " is not a multiple of 8 of at least 32");
            } else if (record_bytes > left) {
                r.fail(errc::invalid_argument, "record_bytes", "runs past the end of the frame");
            } else if (wire_record_header_bytes + uint64_t{key_bytes} + payload_bytes +
                           headers_bytes >
                       record_bytes) {
                r.fail(errc::invalid_argument, "record_bytes",
                       "key, payload and headers do not fit in " + std::to_string(record_bytes) +
                           " bytes");
            }
        }
        r.leave();
        at += record_bytes;
        ++seen;
    }
    if (r.ok() && seen != count) {
        r.fail(errc::invalid_argument, "count",
               std::to_string(count) + " but the records hold " + std::to_string(seen));
    }
}

}  // namespace

result<hello> decode_hello(std::string_view body) {
    wire_reader r(body);
    hello m;
    m.min_version = r.u16("min_version");
    m.max_version = r.u16("max_version");
    m.capabilities = r.u64("capabilities");
    m.client_name = owned(r.str("client_name", max_name_bytes));
    if (r.ok() && m.min_version > m.max_version) {
        r.fail(errc::invalid_argument, "min_version",
               std::to_string(m.min_version) + " is above max_version " +
                   std::to_string(m.max_version));
    }
    return r.finish(std::move(m));
}

result<hello_ok> decode_hello_ok(std::string_view body) {
    wire_reader r(body);
    hello_ok m;
    m.version = r.u16("version");
    m.capabilities = r.u64("capabilities");
    m.max_frame_bytes = r.u32("max_frame_bytes");
    m.node_id = r.u32("node_id");
    m.server_version = owned(r.str("server_version", max_name_bytes));
    return r.finish(std::move(m));
}

result<ping> decode_ping(std::string_view body) {
    wire_reader r(body);
    ping m;
    m.data = owned(r.str("data", max_ping_bytes));
    return r.finish(std::move(m));
}

result<create_topic_request> decode_create_topic(std::string_view body) {
    wire_reader r(body);
    create_topic_request m;
    m.settings = read_settings(r);
    return r.finish(std::move(m));
}

result<topic_name_request> decode_topic_name(std::string_view body) {
    wire_reader r(body);
    topic_name_request m;
    m.name = owned(r.str("name", max_name_bytes));
    return r.finish(std::move(m));
}

result<topic_detail> decode_topic_info(std::string_view body) {
    wire_reader r(body);
    topic_detail m = read_detail(r);
    return r.finish(std::move(m));
}

result<topic_list> decode_topic_list(std::string_view body) {
    wire_reader r(body);
    topic_list m;
    const uint32_t n = r.count("topics", topic_detail_min_bytes);
    m.topics.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        r.enter("topics", i);
        m.topics.push_back(read_detail(r));
        r.leave();
    }
    return r.finish(std::move(m));
}

result<metadata_request> decode_metadata_request(std::string_view body) {
    wire_reader r(body);
    metadata_request m;
    const uint32_t n = r.count("topics", 2, max_topics_per_metadata);
    m.topics.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        r.enter("topics", i);
        m.topics.push_back(owned(r.str("name", max_name_bytes)));
        r.leave();
    }
    return r.finish(std::move(m));
}

result<metadata_reply> decode_metadata_reply(std::string_view body) {
    wire_reader r(body);
    metadata_reply m;
    const uint32_t nodes = r.count("nodes", node_min_bytes);
    m.nodes.reserve(nodes);
    for (uint32_t i = 0; i < nodes && r.ok(); ++i) {
        r.enter("nodes", i);
        node_address a;
        a.node_id = r.u32("node_id");
        a.host = owned(r.str("host", max_name_bytes));
        a.native_port = r.u16("native_port");
        m.nodes.push_back(std::move(a));
        r.leave();
    }
    const uint32_t topics = r.count("topics", topic_leaders_min_bytes);
    m.topics.reserve(topics);
    for (uint32_t i = 0; i < topics && r.ok(); ++i) {
        r.enter("topics", i);
        topic_leaders t;
        t.name = owned(r.str("name", max_name_bytes));
        t.leader_by_partition = read_u32_list(r, "leader_by_partition", UINT32_MAX);
        m.topics.push_back(std::move(t));
        r.leave();
    }
    return r.finish(std::move(m));
}

result<publish_request> decode_publish(std::string_view body) {
    wire_reader r(body);
    publish_request m;
    m.topic = r.str("topic", max_name_bytes);
    m.acks = static_cast<acks_level>(r.enum_u8("acks", 2));
    const bool has_partition = r.boolean("has_partition");
    const uint32_t partition = r.u32("partition");
    if (has_partition) m.partition = partition;
    m.producer_id = r.u64("producer_id");
    m.first_sequence = r.u64("first_sequence");
    const uint32_t n = r.count("events", event_min_bytes, max_events_per_publish);
    m.events.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        r.enter("events", i);
        wire_event e;
        const uint8_t flags = r.u8("flags");
        if (flags > 1) r.fail(errc::invalid_argument, "flags", "bits other than 0 are set");
        e.has_key = (flags & 1) != 0;
        e.timestamp_ns = r.i64("timestamp_ns");
        e.key = r.bytes("key");
        if (r.ok() && !e.has_key && !e.key.empty()) {
            r.fail(errc::invalid_argument, "key",
                   std::to_string(e.key.size()) + " bytes but flags say there is no key");
        }
        e.payload = r.bytes("payload");
        const uint16_t headers = r.u16("header_count");
        if (r.ok() && headers > r.remaining() / header_min_bytes) {
            r.fail(errc::invalid_argument, "header_count",
                   std::to_string(headers) + " entries cannot fit in the " +
                       std::to_string(r.remaining()) + " bytes left in the frame");
        }
        e.first_header = static_cast<uint32_t>(m.headers.size());
        for (uint16_t h = 0; h < headers && r.ok(); ++h) {
            r.enter("headers", h);
            wire_header wh;
            wh.name = r.str("name", max_name_bytes);
            wh.value = r.bytes("value");
            m.headers.push_back(wh);
            r.leave();
        }
        e.header_count = static_cast<uint32_t>(m.headers.size()) - e.first_header;
        m.events.push_back(e);
        r.leave();
    }
    return r.finish(std::move(m));
}

result<publish_ack> decode_publish_ack(std::string_view body) {
    wire_reader r(body);
    publish_ack m;
    const uint32_t n = r.count("batches", batch_ack_bytes);
    m.batches.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        r.enter("batches", i);
        batch_ack b;
        b.partition = r.u32("partition");
        b.base_offset = r.u64("base_offset");
        b.count = r.u32("count");
        const uint8_t duplicate = r.enum_u8("duplicate", 2);
        b.duplicate = duplicate != 0;
        b.offset_known = duplicate != 2;
        m.batches.push_back(b);
        r.leave();
    }
    return r.finish(std::move(m));
}

result<subscribe_request> decode_subscribe(std::string_view body) {
    wire_reader r(body);
    subscribe_request m;
    m.topic = owned(r.str("topic", max_name_bytes));
    m.group = owned(r.str("group", max_name_bytes));
    m.start = static_cast<start_kind>(r.enum_u8("start", 4));
    m.fallback = static_cast<start_kind>(r.enum_u8("fallback", 1));
    m.start_value = r.i64("start_value");
    m.credit_events = r.u32("credit_events");
    m.credit_bytes = r.u64("credit_bytes");
    m.partitions = read_u32_list(r, "partitions", max_partitions_per_subscribe);
    return r.finish(std::move(m));
}

result<subscribed> decode_subscribed(std::string_view body) {
    wire_reader r(body);
    subscribed m;
    m.subscription_id = r.u64("subscription_id");
    m.partitions = read_u32_list(r, "partitions", UINT32_MAX);
    return r.finish(std::move(m));
}

result<events_push> decode_events(std::string_view body) {
    wire_reader r(body);
    events_push m;
    m.subscription_id = r.u64("subscription_id");
    m.partition = r.u32("partition");
    m.count = r.u32("count");
    const uint32_t records_bytes = r.u32("records_bytes");
    const uint32_t reserved = r.u32("reserved");
    if (r.ok() && reserved != 0) {
        r.fail(errc::invalid_argument, "reserved", "must be 0, got " + std::to_string(reserved));
    }
    m.records = r.raw("records", records_bytes);
    if (r.ok()) check_records(r, m.records, m.count);
    return r.finish(m);
}

result<gap_push> decode_gap(std::string_view body) {
    wire_reader r(body);
    gap_push m;
    m.subscription_id = r.u64("subscription_id");
    m.partition = r.u32("partition");
    m.first = r.u64("first");
    m.last = r.u64("last");
    if (r.ok() && m.first > m.last) {
        r.fail(errc::invalid_argument, "first",
               std::to_string(m.first) + " is above last " + std::to_string(m.last));
    }
    return r.finish(m);
}

result<subscription_ended> decode_subscription_ended(std::string_view body) {
    wire_reader r(body);
    subscription_ended m;
    m.subscription_id = r.u64("subscription_id");
    m.code = r.u16("code");
    m.message = owned(r.str("message"));
    return r.finish(std::move(m));
}

result<credit_grant> decode_credit(std::string_view body) {
    wire_reader r(body);
    credit_grant m;
    m.subscription_id = r.u64("subscription_id");
    m.events = r.u32("events");
    m.bytes = r.u64("bytes");
    return r.finish(m);
}

result<unsubscribe_request> decode_unsubscribe(std::string_view body) {
    wire_reader r(body);
    unsubscribe_request m;
    m.subscription_id = r.u64("subscription_id");
    return r.finish(m);
}

result<commit_offset_request> decode_commit_offset(std::string_view body) {
    wire_reader r(body);
    commit_offset_request m;
    m.topic = owned(r.str("topic", max_name_bytes));
    m.group = owned(r.str("group", max_name_bytes));
    m.partition = r.u32("partition");
    m.offset = r.u64("offset");
    return r.finish(std::move(m));
}

result<fetch_offset_request> decode_fetch_offset(std::string_view body) {
    wire_reader r(body);
    fetch_offset_request m;
    m.topic = owned(r.str("topic", max_name_bytes));
    m.group = owned(r.str("group", max_name_bytes));
    m.partition = r.u32("partition");
    return r.finish(std::move(m));
}

result<offset_reply> decode_offset(std::string_view body) {
    wire_reader r(body);
    offset_reply m;
    const bool has = r.boolean("has_offset");
    const uint64_t offset = r.u64("offset");
    if (has) m.offset = offset;
    return r.finish(m);
}

result<error_reply> decode_error(std::string_view body) {
    wire_reader r(body);
    error_reply m;
    m.code = r.u16("code");
    m.retryable = r.boolean("retryable");
    m.message = owned(r.str("message"));
    return r.finish(std::move(m));
}

status decode_empty(std::string_view body) {
    if (!body.empty()) {
        return make_error(errc::invalid_argument, "body: " + std::to_string(body.size()) +
                                                      " bytes left after the end of the message");
    }
    return {};
}

}  // namespace es::protocol
