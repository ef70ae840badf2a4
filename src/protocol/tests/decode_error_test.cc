// Every decoder against bad input: each truncation of a valid body, a byte too many, and the
// specific rules (enums, booleans, counts, limits, records), with the exact error messages.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>

#include "protocol/codec.h"

namespace es::protocol {
namespace {

using decoder = std::function<bool(std::string_view, error*)>;

template <class F>
decoder wrap(F f) {
    return [f](std::string_view body, error* e) {
        auto r = f(body);
        if (r) return true;
        *e = r.err();
        return false;
    };
}

std::string body_of(const std::string& frame_bytes) {
    return frame_bytes.substr(16);
}

struct sample {
    const char* name;
    std::string body;
    decoder decode;
};

std::vector<sample> samples() {
    std::vector<sample> v;
    std::string o;
    auto take = [&o] {
        std::string b = body_of(o);
        o.clear();
        return b;
    };
    encode(o, 1, hello{1, 1, 0, "c"});
    v.push_back({"hello", take(), wrap(decode_hello)});
    encode(o, 1, hello_ok{});
    v.push_back({"hello_ok", take(), wrap(decode_hello_ok)});
    encode_ping(o, 1, ping{"x"});
    v.push_back({"ping", take(), wrap(decode_ping)});
    encode(o, 1, create_topic_request{topic_settings{"t"}});
    v.push_back({"create_topic", take(), wrap(decode_create_topic)});
    encode_delete_topic(o, 1, topic_name_request{"t"});
    v.push_back({"topic_name", take(), wrap(decode_topic_name)});
    topic_detail d{topic_settings{"t"}, 1, {{0, 1, 2, 3, 4}}};
    encode(o, 1, d);
    v.push_back({"topic_info", take(), wrap(decode_topic_info)});
    encode(o, 1, topic_list{{d, d}});
    v.push_back({"topic_list", take(), wrap(decode_topic_list)});
    encode(o, 1, metadata_request{{"a"}});
    v.push_back({"metadata_request", take(), wrap(decode_metadata_request)});
    encode(o, 1, metadata_reply{{{1, "h", 7}}, {{"a", {1}}}});
    v.push_back({"metadata_reply", take(), wrap(decode_metadata_reply)});
    publish_request p;
    p.topic = "t";
    p.headers = {{"n", "v"}};
    p.events = {wire_event{true, 1, "k", "p", 0, 1}};
    encode(o, 1, p);
    v.push_back({"publish", take(), wrap(decode_publish)});
    encode(o, 1, publish_ack{{{0, 1, 2, false}}});
    v.push_back({"publish_ack", take(), wrap(decode_publish_ack)});
    encode(o, 1,
           subscribe_request{"t", "g", start_kind::earliest, start_kind::latest, 0, 1, 2, {0}});
    v.push_back({"subscribe", take(), wrap(decode_subscribe)});
    encode(o, 1, subscribed{1, {0}});
    v.push_back({"subscribed", take(), wrap(decode_subscribed)});
    std::string rec(40, '\0');
    const uint32_t rb = 40, pb = 8;
    std::memcpy(rec.data(), &rb, 4);
    std::memcpy(rec.data() + 8, &pb, 4);
    encode(o, 1, events_push{1, 0, 1, rec});
    v.push_back({"events", take(), wrap(decode_events)});
    encode(o, 1, gap_push{1, 0, 1, 2});
    v.push_back({"gap", take(), wrap(decode_gap)});
    encode(o, 1, subscription_ended{1, 2, "m"});
    v.push_back({"subscription_ended", take(), wrap(decode_subscription_ended)});
    encode(o, 1, credit_grant{1, 2, 3});
    v.push_back({"credit", take(), wrap(decode_credit)});
    encode(o, 1, unsubscribe_request{1});
    v.push_back({"unsubscribe", take(), wrap(decode_unsubscribe)});
    encode(o, 1, commit_offset_request{"t", "g", 0, 1});
    v.push_back({"commit_offset", take(), wrap(decode_commit_offset)});
    encode(o, 1, fetch_offset_request{"t", "g", 0});
    v.push_back({"fetch_offset", take(), wrap(decode_fetch_offset)});
    encode(o, 1, offset_reply{1});
    v.push_back({"offset", take(), wrap(decode_offset)});
    encode(o, 1, error_reply{1, false, "m"});
    v.push_back({"error", take(), wrap(decode_error)});
    return v;
}

TEST(decode_error, every_truncation_is_refused) {
    for (const sample& s : samples()) {
        error e;
        ASSERT_TRUE(s.decode(s.body, &e)) << s.name << ": " << e.message;
        for (size_t n = 0; n < s.body.size(); ++n) {
            error t;
            EXPECT_FALSE(s.decode(s.body.substr(0, n), &t)) << s.name << " cut at " << n;
            EXPECT_EQ(t.code, errc::invalid_argument) << s.name << " cut at " << n;
            const bool named =
                t.message.find("runs past the end of the frame") != std::string::npos ||
                t.message.find("bytes left in the frame") != std::string::npos;
            EXPECT_TRUE(named) << s.name << " cut at " << n << ": " << t.message;
        }
    }
}

TEST(decode_error, a_byte_too_many_is_refused) {
    for (const sample& s : samples()) {
        error e;
        EXPECT_FALSE(s.decode(s.body + "x", &e)) << s.name;
        EXPECT_EQ(e.code, errc::invalid_argument) << s.name;
        EXPECT_EQ(e.message, "body: 1 bytes left after the end of the message") << s.name;
    }
    EXPECT_EQ(decode_empty("ab").err().message, "body: 2 bytes left after the end of the message");
}

TEST(decode_error, truncated_fields_are_named) {
    std::string o;
    encode(o, 1, hello{1, 1, 0, "client"});
    EXPECT_EQ(decode_hello(body_of(o).substr(0, 3)).err().message,
              "max_version: runs past the end of the frame");
    EXPECT_EQ(decode_hello(body_of(o).substr(0, 14)).err().message,
              "client_name: runs past the end of the frame");

    publish_request p;
    p.topic = "t";
    p.headers = {{"name", "value"}};
    p.events = {wire_event{false, 0, "", "0123456789", 0, 0},
                wire_event{true, 0, "key", "b", 0, 1}};
    o.clear();
    encode(o, 1, p);
    const std::string b = body_of(o);
    // topic(3) acks(1) has_partition(1) partition(4) producer(8) sequence(8) count(4) = 29;
    // event 0: flags 1, ts 8, key 4, payload 4+10, headers 2 = 29; event 1 starts at 58.
    EXPECT_EQ(decode_publish(b.substr(0, 58 + 1 + 8 + 4 + 1)).err().message,
              "events[1].key: runs past the end of the frame");
    EXPECT_EQ(decode_publish(b.substr(0, b.size() - 1)).err().message,
              "events[1].headers[0].value: runs past the end of the frame");
}

TEST(decode_error, bad_values_are_refused_with_their_field) {
    std::string o;
    encode(o, 1, hello{2, 1, 0, ""});
    EXPECT_EQ(decode_hello(body_of(o)).err().message, "min_version: 2 is above max_version 1");

    publish_request p;
    p.topic = "t";
    p.events = {wire_event{false, 0, "", "a", 0, 0}};
    o.clear();
    encode(o, 1, p);
    std::string b = body_of(o);
    b[3] = 3;  // acks
    EXPECT_EQ(decode_publish(b).err().message, "acks: must be 0..2, got 3");
    b = body_of(o);
    b[4] = 2;  // has_partition
    EXPECT_EQ(decode_publish(b).err().message, "has_partition: must be 0 or 1, got 2");
    b = body_of(o);
    b[29] = 4;  // events[0].flags
    EXPECT_EQ(decode_publish(b).err().message, "events[0].flags: bits other than 0 are set");
    b = body_of(o);
    b[25] = 9;  // count: 9 events cannot fit
    EXPECT_EQ(decode_publish(b).err().message,
              "events: 9 entries cannot fit in the 20 bytes left in the frame");
    b = body_of(o);
    const uint32_t too_many = max_events_per_publish + 1;
    std::memcpy(b.data() + 25, &too_many, 4);
    auto r = decode_publish(b);
    EXPECT_EQ(r.err().code, errc::too_large);
    EXPECT_EQ(r.err().message, "events: 65537 entries, the limit is 65536");

    // A key that flags say is absent.
    p.events = {wire_event{false, 0, "k", "a", 0, 0}};
    o.clear();
    encode(o, 1, p);
    EXPECT_EQ(decode_publish(body_of(o)).err().message,
              "events[0].key: 1 bytes but flags say there is no key");

    o.clear();
    encode(o, 1, create_topic_request{topic_settings{"t", 1, 2}});
    EXPECT_EQ(decode_create_topic(body_of(o)).err().message, "storage: must be 0..1, got 2");

    o.clear();
    subscribe_request bad_fallback;
    bad_fallback.fallback = start_kind::offset;
    encode(o, 1, bad_fallback);
    EXPECT_EQ(decode_subscribe(body_of(o)).err().message, "fallback: must be 0..1, got 2");

    o.clear();
    encode(o, 1, gap_push{1, 0, 5, 4});
    EXPECT_EQ(decode_gap(body_of(o)).err().message, "first: 5 is above last 4");

    o.clear();
    encode(o, 1, offset_reply{});
    b = body_of(o);
    b[0] = 7;
    EXPECT_EQ(decode_offset(b).err().message, "has_offset: must be 0 or 1, got 7");
}

TEST(decode_error, limits_give_too_large) {
    std::string o;
    encode_ping(o, 1, ping{std::string(max_ping_bytes + 1, 'x')});
    auto r = decode_ping(body_of(o));
    EXPECT_EQ(r.err().code, errc::too_large);
    EXPECT_EQ(r.err().message, "data: 1025 bytes, the limit is 1024");

    o.clear();
    encode_delete_topic(o, 1, topic_name_request{std::string(256, 'a')});
    EXPECT_EQ(decode_topic_name(body_of(o)).err().message, "name: 256 bytes, the limit is 255");

    subscribe_request s;
    s.topic = "t";
    s.partitions.assign(max_partitions_per_subscribe + 1, 0);
    o.clear();
    encode(o, 1, s);
    EXPECT_EQ(decode_subscribe(body_of(o)).err().message,
              "partitions: 4097 entries, the limit is 4096");
}

std::string record_bytes(uint32_t record, uint32_t key, uint32_t payload, size_t size) {
    std::string r(size, '\0');
    std::memcpy(r.data(), &record, 4);
    std::memcpy(r.data() + 4, &key, 4);
    std::memcpy(r.data() + 8, &payload, 4);
    return r;
}

TEST(decode_error, events_records_are_checked) {
    auto check = [](const std::string& records, uint32_t count) {
        std::string o;
        encode(o, 1, events_push{1, 0, count, records});
        return decode_events(body_of(o));
    };
    EXPECT_TRUE(check(record_bytes(32, 0, 0, 32) + record_bytes(40, 1, 7, 40), 2).has_value());
    EXPECT_EQ(check(record_bytes(32, 0, 0, 32), 2).err().message,
              "count: 2 but the records hold 1");
    EXPECT_EQ(check(record_bytes(36, 0, 0, 40), 1).err().message,
              "records[0].record_bytes: 36 is not a multiple of 8 of at least 32");
    EXPECT_EQ(check(record_bytes(0, 0, 0, 32), 1).err().message,
              "records[0].record_bytes: 0 is not a multiple of 8 of at least 32");
    EXPECT_EQ(check(record_bytes(32, 0, 0, 32) + record_bytes(48, 0, 0, 40), 2).err().message,
              "records[1].record_bytes: runs past the end of the frame");
    EXPECT_EQ(check(record_bytes(32, 0, 0, 32) + std::string(8, '\0'), 2).err().message,
              "records[1].record_bytes: runs past the end of the frame");
    EXPECT_EQ(check(record_bytes(40, 4, 5, 40), 1).err().message,
              "records[0].record_bytes: key, payload and headers do not fit in 40 bytes");
    EXPECT_EQ(check(record_bytes(40, 0xFFFFFFFF, 0xFFFFFFFF, 40), 1).err().message,
              "records[0].record_bytes: key, payload and headers do not fit in 40 bytes");

    std::string o;
    encode(o, 1, events_push{1, 0, 0, ""});
    std::string b = body_of(o);
    b[20] = 1;
    EXPECT_EQ(decode_events(b).err().message, "reserved: must be 0, got 1");
}

}  // namespace
}  // namespace es::protocol
