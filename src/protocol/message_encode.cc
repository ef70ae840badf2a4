// Encoders of every native protocol message (byte layouts in docs/protocol.md).
#include "protocol/codec.h"
#include "protocol/wire_writer.h"

namespace es::protocol {
namespace {

void put_settings(wire_writer& w, const topic_settings& s) {
    w.str(s.name);
    w.u32(s.partitions);
    w.u8(s.storage);
    w.u8(s.replication_factor);
    w.u64(s.retention_bytes);
    w.u64(s.retention_ms);
    w.u32(s.max_event_bytes);
}

void put_detail(wire_writer& w, const topic_detail& d) {
    put_settings(w, d.settings);
    w.u64(d.id);
    w.u32(static_cast<uint32_t>(d.partitions.size()));
    for (const partition_detail& p : d.partitions) {
        w.u32(p.partition);
        w.u32(p.leader_node);
        w.u64(p.start_offset);
        w.u64(p.end_offset);
        w.u64(p.stored_bytes);
    }
}

void put_u32_list(wire_writer& w, const std::vector<uint32_t>& v) {
    w.u32(static_cast<uint32_t>(v.size()));
    for (uint32_t x : v) w.u32(x);
}

void encode_name_frame(std::string& out, message_type type, uint64_t request_id,
                       std::string_view name) {
    frame_builder f(out, type, request_id);
    f.body().str(name);
    f.finish();
}

void encode_ping_frame(std::string& out, message_type type, uint64_t request_id, const ping& m) {
    frame_builder f(out, type, request_id);
    f.body().str(m.data);
    f.finish();
}

}  // namespace

void encode(std::string& out, uint64_t request_id, const hello& m) {
    frame_builder f(out, message_type::hello, request_id);
    wire_writer w = f.body();
    w.u16(m.min_version);
    w.u16(m.max_version);
    w.u64(m.capabilities);
    w.str(m.client_name);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const hello_ok& m) {
    frame_builder f(out, message_type::hello_ok, request_id);
    wire_writer w = f.body();
    w.u16(m.version);
    w.u64(m.capabilities);
    w.u32(m.max_frame_bytes);
    w.u32(m.node_id);
    w.str(m.server_version);
    f.finish();
}

void encode_ping(std::string& out, uint64_t request_id, const ping& m) {
    encode_ping_frame(out, message_type::ping, request_id, m);
}

void encode_pong(std::string& out, uint64_t request_id, const ping& m) {
    encode_ping_frame(out, message_type::pong, request_id, m);
}

void encode(std::string& out, uint64_t request_id, const create_topic_request& m) {
    frame_builder f(out, message_type::create_topic, request_id);
    wire_writer w = f.body();
    put_settings(w, m.settings);
    f.finish();
}

void encode_delete_topic(std::string& out, uint64_t request_id, const topic_name_request& m) {
    encode_name_frame(out, message_type::delete_topic, request_id, m.name);
}

void encode_describe_topic(std::string& out, uint64_t request_id, const topic_name_request& m) {
    encode_name_frame(out, message_type::describe_topic, request_id, m.name);
}

void encode_list_topics(std::string& out, uint64_t request_id) {
    frame_builder f(out, message_type::list_topics, request_id);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const topic_detail& m) {
    frame_builder f(out, message_type::topic_info, request_id);
    wire_writer w = f.body();
    put_detail(w, m);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const topic_list& m) {
    frame_builder f(out, message_type::topic_list, request_id);
    wire_writer w = f.body();
    w.u32(static_cast<uint32_t>(m.topics.size()));
    for (const topic_detail& d : m.topics) put_detail(w, d);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const metadata_request& m) {
    frame_builder f(out, message_type::metadata, request_id);
    wire_writer w = f.body();
    w.u32(static_cast<uint32_t>(m.topics.size()));
    for (const std::string& t : m.topics) w.str(t);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const metadata_reply& m) {
    frame_builder f(out, message_type::metadata_info, request_id);
    wire_writer w = f.body();
    w.u32(static_cast<uint32_t>(m.nodes.size()));
    for (const node_address& n : m.nodes) {
        w.u32(n.node_id);
        w.str(n.host);
        w.u16(n.native_port);
    }
    w.u32(static_cast<uint32_t>(m.topics.size()));
    for (const topic_leaders& t : m.topics) {
        w.str(t.name);
        put_u32_list(w, t.leader_by_partition);
    }
    f.finish();
}

namespace {

void put_publish_head(wire_writer& w, const publish_head& h, uint32_t event_count) {
    w.str(h.topic);
    w.u8(static_cast<uint8_t>(h.acks));
    w.boolean(h.partition.has_value());
    w.u32(h.partition.value_or(0));
    w.u64(h.producer_id);
    w.u64(h.first_sequence);
    w.u32(event_count);
}

void put_publish_record(wire_writer& w, bool has_key, std::string_view key,
                        std::string_view payload, int64_t timestamp_ns, size_t header_count) {
    ES_ASSERT(header_count <= UINT16_MAX);
    w.u8(has_key ? 1 : 0);
    w.i64(timestamp_ns);
    w.bytes(key);
    w.bytes(payload);
    w.u16(static_cast<uint16_t>(header_count));
}

void put_publish_header(wire_writer& w, std::string_view name, std::string_view value) {
    w.str(name);
    w.bytes(value);
}

}  // namespace

void encode(std::string& out, uint64_t request_id, const publish_request& m) {
    frame_builder f(out, message_type::publish, request_id);
    wire_writer w = f.body();
    put_publish_head(w, m, static_cast<uint32_t>(m.events.size()));
    for (const wire_event& e : m.events) {
        ES_ASSERT(size_t{e.first_header} + e.header_count <= m.headers.size());
        put_publish_record(w, e.has_key, e.key, e.payload, e.timestamp_ns, e.header_count);
        for (uint32_t i = 0; i < e.header_count; ++i) {
            const wire_header& h = m.headers[e.first_header + i];
            put_publish_header(w, h.name, h.value);
        }
    }
    f.finish();
}

void append_publish_record(std::string& records, std::optional<std::string_view> key,
                           std::string_view payload, int64_t timestamp_ns, size_t header_count) {
    wire_writer w(records);
    put_publish_record(w, key.has_value(), key.value_or(std::string_view()), payload, timestamp_ns,
                       header_count);
}

void append_publish_header(std::string& records, std::string_view name, std::string_view value) {
    wire_writer w(records);
    put_publish_header(w, name, value);
}

void encode_publish_head(std::string& out, uint64_t request_id, const publish_head& head,
                         uint32_t event_count, size_t records_bytes) {
    frame_builder f(out, message_type::publish, request_id);
    wire_writer w = f.body();
    put_publish_head(w, head, event_count);
    f.finish(records_bytes);
}

void encode_publish(std::string& out, uint64_t request_id, const publish_head& head,
                    uint32_t event_count, std::string_view records) {
    encode_publish_head(out, request_id, head, event_count, records.size());
    out.append(records);
}

void encode(std::string& out, uint64_t request_id, const publish_ack& m) {
    frame_builder f(out, message_type::publish_ack, request_id);
    wire_writer w = f.body();
    w.u32(static_cast<uint32_t>(m.batches.size()));
    for (const batch_ack& b : m.batches) {
        w.u32(b.partition);
        w.u64(b.base_offset);
        w.u32(b.count);
        w.u8(b.duplicate ? (b.offset_known ? 1 : 2) : 0);
    }
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const subscribe_request& m) {
    frame_builder f(out, message_type::subscribe, request_id);
    wire_writer w = f.body();
    w.str(m.topic);
    w.str(m.group);
    w.u8(static_cast<uint8_t>(m.start));
    w.u8(static_cast<uint8_t>(m.fallback));
    w.i64(m.start_value);
    w.u32(m.credit_events);
    w.u64(m.credit_bytes);
    put_u32_list(w, m.partitions);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const subscribed& m) {
    frame_builder f(out, message_type::subscribed, request_id);
    wire_writer w = f.body();
    w.u64(m.subscription_id);
    put_u32_list(w, m.partitions);
    f.finish();
}

void encode_events_head(std::string& out, uint64_t request_id, uint64_t subscription_id,
                        uint32_t partition, uint32_t count, uint32_t records_bytes) {
    wire_writer w(out);
    const size_t frame_bytes = frame_header_bytes + events_body_head_bytes + size_t{records_bytes};
    ES_ASSERT(frame_bytes <= UINT32_MAX);
    w.u32(static_cast<uint32_t>(frame_bytes));
    w.u16(static_cast<uint16_t>(message_type::events));
    w.u16(0);
    w.u64(request_id);
    w.u64(subscription_id);
    w.u32(partition);
    w.u32(count);
    w.u32(records_bytes);
    w.u32(0);
}

void encode(std::string& out, uint64_t request_id, const events_push& m) {
    ES_ASSERT(m.records.size() <= UINT32_MAX);
    encode_events_head(out, request_id, m.subscription_id, m.partition, m.count,
                       static_cast<uint32_t>(m.records.size()));
    out.append(m.records);
}

void encode(std::string& out, uint64_t request_id, const gap_push& m) {
    frame_builder f(out, message_type::gap, request_id);
    wire_writer w = f.body();
    w.u64(m.subscription_id);
    w.u32(m.partition);
    w.u64(m.first);
    w.u64(m.last);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const subscription_ended& m) {
    frame_builder f(out, message_type::subscription_ended, request_id);
    wire_writer w = f.body();
    w.u64(m.subscription_id);
    w.u16(m.code);
    w.str(m.message);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const credit_grant& m) {
    frame_builder f(out, message_type::credit, request_id);
    wire_writer w = f.body();
    w.u64(m.subscription_id);
    w.u32(m.events);
    w.u64(m.bytes);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const unsubscribe_request& m) {
    frame_builder f(out, message_type::unsubscribe, request_id);
    f.body().u64(m.subscription_id);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const commit_offset_request& m) {
    frame_builder f(out, message_type::commit_offset, request_id);
    wire_writer w = f.body();
    w.str(m.topic);
    w.str(m.group);
    w.u32(m.partition);
    w.u64(m.offset);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const fetch_offset_request& m) {
    frame_builder f(out, message_type::fetch_offset, request_id);
    wire_writer w = f.body();
    w.str(m.topic);
    w.str(m.group);
    w.u32(m.partition);
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const offset_reply& m) {
    frame_builder f(out, message_type::offset, request_id);
    wire_writer w = f.body();
    w.boolean(m.offset.has_value());
    w.u64(m.offset.value_or(0));
    f.finish();
}

void encode(std::string& out, uint64_t request_id, const error_reply& m) {
    frame_builder f(out, message_type::error, request_id);
    wire_writer w = f.body();
    w.u16(m.code);
    w.boolean(m.retryable);
    w.str(m.message);
    f.finish();
}

void encode_ok(std::string& out, uint64_t request_id) {
    frame_builder f(out, message_type::ok, request_id);
    f.finish();
}

}  // namespace es::protocol
