// Round trips of every native protocol message: encode, read back the frame, decode, compare.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "protocol/codec.h"

namespace es::protocol {
namespace {

// The single frame in `bytes`, checked for its type and request id.
frame only_frame(const std::string& bytes, message_type type, uint64_t request_id) {
    auto f = parse_single_frame(bytes, max_frame_bytes_limit);
    EXPECT_TRUE(f.has_value()) << (f ? "" : f.err().message);
    EXPECT_EQ(f->header.type, type);
    EXPECT_EQ(f->header.request_id, request_id);
    EXPECT_EQ(f->header.frame_bytes, bytes.size());
    return *f;
}

topic_detail sample_detail() {
    topic_detail d;
    d.settings = topic_settings{"orders.v1", 3, 1, 1, 1000, 60000, 4096};
    d.id = 77;
    d.partitions = {{0, 1, 5, 10, 300}, {1, 1, 0, 0, 0}, {2, 1, 7, 9, 64}};
    return d;
}

void expect_same(const topic_detail& a, const topic_detail& b) {
    EXPECT_EQ(a.settings.name, b.settings.name);
    EXPECT_EQ(a.settings.partitions, b.settings.partitions);
    EXPECT_EQ(a.settings.storage, b.settings.storage);
    EXPECT_EQ(a.settings.replication_factor, b.settings.replication_factor);
    EXPECT_EQ(a.settings.retention_bytes, b.settings.retention_bytes);
    EXPECT_EQ(a.settings.retention_ms, b.settings.retention_ms);
    EXPECT_EQ(a.settings.max_event_bytes, b.settings.max_event_bytes);
    EXPECT_EQ(a.id, b.id);
    ASSERT_EQ(a.partitions.size(), b.partitions.size());
    for (size_t i = 0; i < a.partitions.size(); ++i) {
        EXPECT_EQ(a.partitions[i].partition, b.partitions[i].partition);
        EXPECT_EQ(a.partitions[i].leader_node, b.partitions[i].leader_node);
        EXPECT_EQ(a.partitions[i].start_offset, b.partitions[i].start_offset);
        EXPECT_EQ(a.partitions[i].end_offset, b.partitions[i].end_offset);
        EXPECT_EQ(a.partitions[i].stored_bytes, b.partitions[i].stored_bytes);
    }
}

// A record in the layout of core/record_format.h with the given key and payload.
std::string record(std::string_view key, std::string_view payload, uint64_t offset) {
    const size_t n = (32 + key.size() + payload.size() + 7) & ~size_t{7};
    std::string r(n, '\0');
    const uint32_t record_bytes = static_cast<uint32_t>(n);
    const uint32_t key_bytes = static_cast<uint32_t>(key.size());
    const uint32_t payload_bytes = static_cast<uint32_t>(payload.size());
    const uint16_t flags = 1;
    std::memcpy(r.data(), &record_bytes, 4);
    std::memcpy(r.data() + 4, &key_bytes, 4);
    std::memcpy(r.data() + 8, &payload_bytes, 4);
    std::memcpy(r.data() + 14, &flags, 2);
    std::memcpy(r.data() + 24, &offset, 8);
    std::memcpy(r.data() + 32, key.data(), key.size());
    std::memcpy(r.data() + 32 + key.size(), payload.data(), payload.size());
    return r;
}

TEST(codec_round_trip, hello_and_hello_ok) {
    std::string out;
    encode(out, 1, hello{1, 3, 0x5, "esctl"});
    auto h = decode_hello(only_frame(out, message_type::hello, 1).body);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->min_version, 1);
    EXPECT_EQ(h->max_version, 3);
    EXPECT_EQ(h->capabilities, 0x5u);
    EXPECT_EQ(h->client_name, "esctl");

    out.clear();
    encode(out, 1, hello_ok{1, 0, 1 << 20, 4, "0.1.0"});
    auto ok = decode_hello_ok(only_frame(out, message_type::hello_ok, 1).body);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->version, 1);
    EXPECT_EQ(ok->max_frame_bytes, 1u << 20);
    EXPECT_EQ(ok->node_id, 4u);
    EXPECT_EQ(ok->server_version, "0.1.0");
}

TEST(codec_round_trip, ping_pong_ok_and_empty_requests) {
    std::string out;
    encode_ping(out, 9, ping{"abc"});
    EXPECT_EQ(decode_ping(only_frame(out, message_type::ping, 9).body)->data, "abc");
    out.clear();
    encode_pong(out, 9, ping{"abc"});
    EXPECT_EQ(decode_ping(only_frame(out, message_type::pong, 9).body)->data, "abc");
    out.clear();
    encode_ok(out, 10);
    EXPECT_TRUE(decode_empty(only_frame(out, message_type::ok, 10).body).has_value());
    out.clear();
    encode_list_topics(out, 11);
    EXPECT_EQ(out.size(), frame_header_bytes);
    EXPECT_TRUE(decode_empty(only_frame(out, message_type::list_topics, 11).body).has_value());
}

TEST(codec_round_trip, topic_requests_and_answers) {
    std::string out;
    encode(out, 2, create_topic_request{sample_detail().settings});
    auto c = decode_create_topic(only_frame(out, message_type::create_topic, 2).body);
    ASSERT_TRUE(c.has_value());
    topic_detail got;
    got.settings = c->settings;
    topic_detail want;
    want.settings = sample_detail().settings;
    expect_same(got, want);

    out.clear();
    encode_delete_topic(out, 3, topic_name_request{"a"});
    EXPECT_EQ(decode_topic_name(only_frame(out, message_type::delete_topic, 3).body)->name, "a");
    out.clear();
    encode_describe_topic(out, 4, topic_name_request{"b"});
    EXPECT_EQ(decode_topic_name(only_frame(out, message_type::describe_topic, 4).body)->name, "b");

    out.clear();
    encode(out, 5, sample_detail());
    auto info = decode_topic_info(only_frame(out, message_type::topic_info, 5).body);
    ASSERT_TRUE(info.has_value());
    expect_same(*info, sample_detail());

    out.clear();
    topic_list list;
    list.topics = {sample_detail(), topic_detail{}};
    encode(out, 6, list);
    auto l = decode_topic_list(only_frame(out, message_type::topic_list, 6).body);
    ASSERT_TRUE(l.has_value());
    ASSERT_EQ(l->topics.size(), 2u);
    expect_same(l->topics[0], sample_detail());
    expect_same(l->topics[1], topic_detail{});
}

TEST(codec_round_trip, metadata) {
    std::string out;
    encode(out, 7, metadata_request{{"a", "bb"}});
    auto q = decode_metadata_request(only_frame(out, message_type::metadata, 7).body);
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->topics, (std::vector<std::string>{"a", "bb"}));

    out.clear();
    metadata_reply m;
    m.nodes = {{1, "127.0.0.1", 7070}, {2, "host-2", 7071}};
    m.topics = {{"a", {1, 1}}, {"bb", {2}}};
    encode(out, 7, m);
    auto r = decode_metadata_reply(only_frame(out, message_type::metadata_info, 7).body);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->nodes.size(), 2u);
    EXPECT_EQ(r->nodes[1].node_id, 2u);
    EXPECT_EQ(r->nodes[1].host, "host-2");
    EXPECT_EQ(r->nodes[1].native_port, 7071);
    ASSERT_EQ(r->topics.size(), 2u);
    EXPECT_EQ(r->topics[0].name, "a");
    EXPECT_EQ(r->topics[0].leader_by_partition, (std::vector<uint32_t>{1, 1}));
    EXPECT_EQ(r->topics[1].leader_by_partition, (std::vector<uint32_t>{2}));
}

// A PUBLISH with keys, headers, a partition and a producer; `payload3` is its third payload.
publish_request keyed_publish(std::string_view payload3) {
    publish_request p;
    p.topic = "orders";
    p.acks = acks_level::all;
    p.partition = 2;
    p.producer_id = 99;
    p.first_sequence = 1000;
    p.headers = {{"h1", "v1"}, {"h2", ""}, {"trace", std::string_view("\0x", 2)}};
    p.events = {wire_event{true, 123, "k1", "payload-1", 0, 2}, wire_event{false, 0, "", "", 2, 0},
                wire_event{true, -5, "", payload3, 2, 1}};
    return p;
}

TEST(codec_round_trip, publish_with_keys_headers_and_producer) {
    const std::string payload3(300, 'p');
    const publish_request p = keyed_publish(payload3);
    std::string out;
    encode(out, 12, p);
    auto d = decode_publish(only_frame(out, message_type::publish, 12).body);
    ASSERT_TRUE(d.has_value()) << d.err().message;
    EXPECT_EQ(d->topic, "orders");
    EXPECT_EQ(d->acks, acks_level::all);
    EXPECT_EQ(d->partition, std::optional<uint32_t>(2));
    EXPECT_EQ(d->producer_id, 99u);
    EXPECT_EQ(d->first_sequence, 1000u);
    ASSERT_EQ(d->events.size(), 3u);
    ASSERT_EQ(d->headers.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(d->events[i].has_key, p.events[i].has_key);
        EXPECT_EQ(d->events[i].timestamp_ns, p.events[i].timestamp_ns);
        EXPECT_EQ(d->events[i].key, p.events[i].key);
        EXPECT_EQ(d->events[i].payload, p.events[i].payload);
        EXPECT_EQ(d->events[i].first_header, p.events[i].first_header);
        EXPECT_EQ(d->events[i].header_count, p.events[i].header_count);
        EXPECT_EQ(d->headers[i].name, p.headers[i].name);
        EXPECT_EQ(d->headers[i].value, p.headers[i].value);
    }

    // Without a partition.
    publish_request q;
    q.topic = "t";
    q.acks = acks_level::none;
    q.events = {wire_event{false, 0, "", "x", 0, 0}};
    out.clear();
    encode(out, 13, q);
    auto e = decode_publish(only_frame(out, message_type::publish, 13).body);
    ASSERT_TRUE(e.has_value());
    EXPECT_FALSE(e->partition.has_value());
    EXPECT_EQ(e->acks, acks_level::none);
}

// A producer writes each event's record as it comes and the frame around them when it sends:
// the bytes are the same as a whole publish_request's.
TEST(codec_round_trip, publish_in_two_steps_is_byte_for_byte_the_whole_encoding) {
    const std::string payload3(300, 'p');
    const publish_request p = keyed_publish(payload3);
    std::string whole;
    encode(whole, 12, p);

    std::string records;
    for (const auto& e : p.events) {
        append_publish_record(records,
                              e.has_key ? std::optional<std::string_view>(e.key) : std::nullopt,
                              e.payload, e.timestamp_ns, e.header_count);
        for (uint32_t i = 0; i < e.header_count; ++i) {
            append_publish_header(records, p.headers[e.first_header + i].name,
                                  p.headers[e.first_header + i].value);
        }
    }
    std::string two_steps;
    encode_publish(two_steps, 12, p, uint32_t(p.events.size()), records);
    EXPECT_EQ(two_steps, whole);

    // Without a partition, without records.
    whole.clear();
    two_steps.clear();
    publish_request q;
    q.topic = "t";
    q.acks = acks_level::none;
    encode(whole, 13, q);
    publish_head head;
    head.topic = q.topic;
    head.acks = q.acks;
    encode_publish(two_steps, 13, head, 0, "");
    EXPECT_EQ(two_steps, whole);
}

TEST(codec_round_trip, publish_ack) {
    publish_ack a;
    a.batches = {{0, 10, 3, false}, {1, 7, 1, true}, {1, 0, 2, true, false}};
    std::string out;
    encode(out, 14, a);
    // duplicate on the wire: 0, 1, and 2 for a duplicate whose offset is forgotten.
    EXPECT_EQ(out.back(), 2);
    auto d = decode_publish_ack(only_frame(out, message_type::publish_ack, 14).body);
    ASSERT_TRUE(d.has_value());
    ASSERT_EQ(d->batches.size(), 3u);
    EXPECT_EQ(d->batches[0].base_offset, 10u);
    EXPECT_EQ(d->batches[0].count, 3u);
    EXPECT_FALSE(d->batches[0].duplicate);
    EXPECT_TRUE(d->batches[0].offset_known);
    EXPECT_EQ(d->batches[1].partition, 1u);
    EXPECT_EQ(d->batches[1].base_offset, 7u);
    EXPECT_TRUE(d->batches[1].duplicate);
    EXPECT_TRUE(d->batches[1].offset_known);
    EXPECT_TRUE(d->batches[2].duplicate);
    EXPECT_FALSE(d->batches[2].offset_known);
    std::string body(only_frame(out, message_type::publish_ack, 14).body);
    body.back() = 3;
    EXPECT_EQ(decode_publish_ack(body).err().message, "batches[2].duplicate: must be 0..2, got 3");
}

TEST(codec_round_trip, subscribe_and_subscription_frames) {
    subscribe_request s;
    s.topic = "t";
    s.group = "g";
    s.start = start_kind::committed;
    s.fallback = start_kind::earliest;
    s.start_value = -1;
    s.credit_events = 100;
    s.credit_bytes = 1 << 20;
    s.partitions = {0, 3};
    std::string out;
    encode(out, 15, s);
    auto d = decode_subscribe(only_frame(out, message_type::subscribe, 15).body);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->topic, "t");
    EXPECT_EQ(d->group, "g");
    EXPECT_EQ(d->start, start_kind::committed);
    EXPECT_EQ(d->fallback, start_kind::earliest);
    EXPECT_EQ(d->start_value, -1);
    EXPECT_EQ(d->credit_events, 100u);
    EXPECT_EQ(d->credit_bytes, 1u << 20);
    EXPECT_EQ(d->partitions, (std::vector<uint32_t>{0, 3}));

    out.clear();
    encode(out, 15, subscribed{5, {0, 1, 2}});
    auto sd = decode_subscribed(only_frame(out, message_type::subscribed, 15).body);
    ASSERT_TRUE(sd.has_value());
    EXPECT_EQ(sd->subscription_id, 5u);
    EXPECT_EQ(sd->partitions, (std::vector<uint32_t>{0, 1, 2}));

    out.clear();
    encode(out, 15, gap_push{5, 1, 10, 19});
    auto g = decode_gap(only_frame(out, message_type::gap, 15).body);
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->first, 10u);
    EXPECT_EQ(g->last, 19u);

    out.clear();
    encode(out, 15, subscription_ended{5, 2, "topic deleted"});
    auto e = decode_subscription_ended(only_frame(out, message_type::subscription_ended, 15).body);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code, 2);
    EXPECT_EQ(e->message, "topic deleted");

    out.clear();
    encode(out, 16, credit_grant{5, 7, 4096});
    auto c = decode_credit(only_frame(out, message_type::credit, 16).body);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->subscription_id, 5u);
    EXPECT_EQ(c->events, 7u);
    EXPECT_EQ(c->bytes, 4096u);

    out.clear();
    encode(out, 17, unsubscribe_request{5});
    EXPECT_EQ(
        decode_unsubscribe(only_frame(out, message_type::unsubscribe, 17).body)->subscription_id,
        5u);
}

TEST(codec_round_trip, events_whole_and_by_head) {
    const std::string records = record("k", "v1", 10) + record("", "value-two", 11);
    std::string out;
    encode(out, 15, events_push{5, 2, 2, records});
    frame f = only_frame(out, message_type::events, 15);
    auto d = decode_events(f.body);
    ASSERT_TRUE(d.has_value()) << d.err().message;
    EXPECT_EQ(d->subscription_id, 5u);
    EXPECT_EQ(d->partition, 2u);
    EXPECT_EQ(d->count, 2u);
    EXPECT_EQ(d->records, records);
    // Records start 8-byte aligned within the frame.
    EXPECT_EQ((d->records.data() - out.data()) % 8, 0);

    std::string by_head;
    encode_events_head(by_head, 15, 5, 2, 2, static_cast<uint32_t>(records.size()));
    by_head += records;
    EXPECT_EQ(by_head, out);
}

TEST(codec_round_trip, offsets_and_errors) {
    std::string out;
    encode(out, 18, commit_offset_request{"t", "g", 3, 42});
    auto c = decode_commit_offset(only_frame(out, message_type::commit_offset, 18).body);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->topic, "t");
    EXPECT_EQ(c->group, "g");
    EXPECT_EQ(c->partition, 3u);
    EXPECT_EQ(c->offset, 42u);

    out.clear();
    encode(out, 19, fetch_offset_request{"t", "g", 3});
    auto f = decode_fetch_offset(only_frame(out, message_type::fetch_offset, 19).body);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->partition, 3u);

    out.clear();
    encode(out, 19, offset_reply{42});
    EXPECT_EQ(decode_offset(only_frame(out, message_type::offset, 19).body)->offset,
              std::optional<uint64_t>(42));
    out.clear();
    encode(out, 19, offset_reply{});
    EXPECT_FALSE(decode_offset(only_frame(out, message_type::offset, 19).body)->offset);

    out.clear();
    encode(out, 20, error_reply{4, true, "queue full"});
    auto e = decode_error(only_frame(out, message_type::error, 20).body);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code, 4);
    EXPECT_TRUE(e->retryable);
    EXPECT_EQ(e->message, "queue full");
}

TEST(codec_round_trip, header_layout_is_little_endian) {
    std::string out;
    encode_ok(out, 0x0102030405060708ull);
    const std::string want("\x10\x00\x00\x00\x00\x80\x00\x00\x08\x07\x06\x05\x04\x03\x02\x01", 16);
    EXPECT_EQ(out, want);
}

TEST(codec_round_trip, every_type_has_a_name) {
    EXPECT_STREQ(message_type_name(message_type::publish), "PUBLISH");
    EXPECT_STREQ(message_type_name(message_type::error), "ERROR");
    EXPECT_FALSE(is_known_type(0x7777));
    EXPECT_TRUE(is_request(message_type::credit));
    EXPECT_FALSE(is_request(message_type::events));
}

}  // namespace
}  // namespace es::protocol
