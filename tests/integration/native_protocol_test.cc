// The native protocol against the real binary (docs/protocol.md): handshake, every request,
// publish/subscribe in order, groups and offsets, credit, pipelining, malformed and oversized
// frames, bad handshakes, abrupt disconnects, time-outs and UDP. After each the node still
// serves and every accepted event can be read back.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.h"
#include "tests/integration/server_process_fixture.h"
#include "tests/integration/test_http_client.h"
#include "tests/integration/test_native_client.h"

namespace es::test {
namespace {

using namespace protocol;
using std::chrono::milliseconds;

// One event read back from EVENTS.
struct read_event {
    uint32_t partition = 0;
    uint64_t offset = 0;
    bool has_key = false;
    std::string key;
    std::string payload;
    std::string headers;  // the raw headers region
    int64_t timestamp_ns = 0;
};

std::vector<read_event> records_of(const events_push& e) {
    std::vector<read_event> out;
    const char* p = e.records.data();
    for (uint32_t i = 0; i < e.count; ++i) {
        uint32_t record_bytes, key_bytes, payload_bytes;
        uint16_t headers_bytes, flags;
        uint64_t offset;
        std::memcpy(&record_bytes, p, 4);
        std::memcpy(&key_bytes, p + 4, 4);
        std::memcpy(&payload_bytes, p + 8, 4);
        std::memcpy(&headers_bytes, p + 12, 2);
        std::memcpy(&flags, p + 14, 2);
        std::memcpy(&offset, p + 24, 8);
        read_event r;
        std::memcpy(&r.timestamp_ns, p + 16, 8);
        r.partition = e.partition;
        r.offset = offset;
        r.has_key = (flags & 1) != 0;
        r.key.assign(p + 32, key_bytes);
        r.payload.assign(p + 32 + key_bytes, payload_bytes);
        r.headers.assign(p + 32 + key_bytes + payload_bytes, headers_bytes);
        out.push_back(std::move(r));
        p += record_bytes;
    }
    return out;
}

class native_protocol_test : public server_process_fixture {
  protected:
    void SetUp() override {
        server_process_fixture::SetUp();
        server_launch launch;
        launch.flags["native_idle_timeout_ms"] = "1500";
        launch.flags["native_handshake_timeout_ms"] = "1000";
        launch.flags["native_frame_timeout_ms"] = "1000";
        launch.flags["native_write_timeout_ms"] = "1000";
        launch.flags["native_max_frame_bytes"] = "65536";
        launch.flags["native_send_buffer_bytes"] = "98304";
        node_ = start_ready(launch, &ports_);
        ASSERT_NE(node_, nullptr);
    }

    std::unique_ptr<native_test_client> connect(bool hello = true) {
        auto c = native_test_client::connect(ports_.native);
        EXPECT_TRUE(c) << c.err().message;
        if (!c) return nullptr;
        if (hello) {
            auto ok = (*c)->handshake();
            EXPECT_TRUE(ok) << ok.err().message;
        }
        return std::move(*c);
    }

    // Sends `frame` and reads the next frame that is not a push.
    owned_frame call(native_test_client& c, const std::string& frame) {
        auto f = call_skipping_pushes(c, frame);
        EXPECT_TRUE(f) << f.err().message;
        return f ? *f : owned_frame{};
    }

    static error_reply error_of(const owned_frame& f) {
        EXPECT_EQ(f.header.type, message_type::error) << message_type_name(f.header.type);
        auto e = decode_error(f.body);
        EXPECT_TRUE(e);
        return e ? *e : error_reply{};
    }

    void create_topic(native_test_client& c, const std::string& name, uint32_t partitions = 1) {
        std::string out;
        topic_settings s;
        s.name = name;
        s.partitions = partitions;
        encode(out, 7, create_topic_request{s});
        auto f = call(c, out);
        ASSERT_EQ(f.header.type, message_type::topic_info) << error_of(f).message;
    }

    // Publishes payloads `prefix` + i for i in [from, to) to one partition, acks=leader, one
    // PUBLISH; returns the ack.
    publish_ack publish(native_test_client& c, const std::string& topic, int from, int to,
                        std::optional<uint32_t> partition = 0) {
        std::vector<std::string> payloads;
        for (int i = from; i < to; ++i) payloads.push_back("event-" + std::to_string(i));
        publish_request p;
        p.topic = topic;
        p.acks = acks_level::leader;
        p.partition = partition;
        for (const auto& s : payloads) p.events.push_back(wire_event{false, 0, {}, s, 0, 0});
        std::string out;
        encode(out, 100 + from, p);
        auto f = call(c, out);
        EXPECT_EQ(f.header.type, message_type::publish_ack)
            << (f.header.type == message_type::error ? error_of(f).message : "");
        auto ack = decode_publish_ack(f.body);
        return ack ? *ack : publish_ack{};
    }

    // Subscribes on `c` and returns the SUBSCRIBED.
    subscribed subscribe(native_test_client& c, subscribe_request s, uint64_t request_id = 50) {
        std::string out;
        encode(out, request_id, s);
        auto f = call(c, out);
        EXPECT_EQ(f.header.type, message_type::subscribed)
            << (f.header.type == message_type::error ? error_of(f).message : "");
        auto d = decode_subscribed(f.body);
        return d ? *d : subscribed{};
    }

    // A 1-partition topic that keeps 256 MiB, for the tests that fill a connection's queue.
    void create_roomy_topic(native_test_client& c, const std::string& name) {
        std::string out;
        topic_settings t;
        t.name = name;
        t.partitions = 1;
        t.retention_bytes = 256ull << 20;
        encode(out, 7, create_topic_request{t});
        ASSERT_EQ(call(c, out).header.type, message_type::topic_info);
    }

    // Publishes `batches` batches of 60 events of 1000 bytes (acks=leader).
    void publish_filler(native_test_client& c, const std::string& topic, int batches) {
        const std::string payload(1000, 'f');
        for (int b = 0; b < batches; ++b) {
            publish_request p;
            p.topic = topic;
            p.acks = acks_level::leader;
            p.partition = 0;
            for (int i = 0; i < 60; ++i) {
                p.events.push_back(wire_event{false, 0, {}, payload, 0, 0});
            }
            std::string out;
            encode(out, 1000 + b, p);
            ASSERT_EQ(call(c, out).header.type, message_type::publish_ack) << b;
        }
    }

    // Subscribes from the earliest event with credit that never runs out.
    void subscribe_unlimited(native_test_client& c, const std::string& topic) {
        subscribe_request s;
        s.topic = topic;
        s.start = start_kind::earliest;
        s.credit_events = 1u << 30;
        s.credit_bytes = 1ull << 40;
        subscribe(c, s);
    }

    // Reads EVENTS until `n` events came or nothing comes for `quiet`.
    std::vector<read_event> read_events(native_test_client& c, size_t n,
                                        milliseconds quiet = milliseconds(3000)) {
        std::vector<read_event> got;
        while (got.size() < n) {
            auto f = c.read_frame(quiet);
            if (!f) break;
            if (f->header.type != message_type::events) continue;
            auto e = decode_events(f->body);
            EXPECT_TRUE(e) << e.err().message;
            if (!e) break;
            for (auto& r : records_of(*e)) got.push_back(std::move(r));
        }
        return got;
    }

    // Every event of partition 0 of `topic`, read back on a fresh connection from earliest.
    std::vector<read_event> read_back(const std::string& topic, size_t expected) {
        auto c = connect();
        if (!c) return {};
        subscribe_request s;
        s.topic = topic;
        s.start = start_kind::earliest;
        s.credit_events = 1 << 20;
        s.credit_bytes = 64 << 20;
        subscribe(*c, s);
        auto got = read_events(*c, expected);
        // And nothing more than expected.
        auto extra = read_events(*c, 1, milliseconds(200));
        EXPECT_TRUE(extra.empty()) << "more events than expected in " << topic;
        return got;
    }

    void expect_payloads(const std::vector<read_event>& got, int n) {
        ASSERT_EQ(got.size(), static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            EXPECT_EQ(got[i].offset, static_cast<uint64_t>(i));
            EXPECT_EQ(got[i].payload, "event-" + std::to_string(i));
        }
    }

    // The node still answers a new connection.
    void expect_serving() {
        ASSERT_TRUE(node_->running()) << node_->log();
        auto c = connect();
        ASSERT_TRUE(c);
        std::string out;
        encode_ping(out, 9, ping{"still there"});
        auto f = call(*c, out);
        ASSERT_EQ(f.header.type, message_type::pong);
        EXPECT_EQ(decode_ping(f.body)->data, "still there");
    }

    // The value of one series in /metrics, or -1.
    double metric(const std::string& series) {
        auto r = http_call(ports_.http, "GET", "/metrics", "");
        EXPECT_TRUE(r);
        if (!r) return -1;
        const std::string& text = r->body;
        size_t at = 0;
        while ((at = text.find(series, at)) != std::string::npos) {
            if ((at == 0 || text[at - 1] == '\n') && text[at + series.size()] == ' ') {
                return std::stod(text.substr(at + series.size() + 1));
            }
            at += series.size();
        }
        return -1;
    }

    server_process* node_ = nullptr;
    server::ports_record ports_;
};

TEST_F(native_protocol_test, handshake_ping_and_metadata) {
    auto c = connect(false);
    ASSERT_TRUE(c);
    auto ok = c->handshake(77);
    ASSERT_TRUE(ok) << ok.err().message;
    EXPECT_EQ(ok->version, 1);
    EXPECT_EQ(ok->max_frame_bytes, 65536u);
    EXPECT_EQ(ok->node_id, 1u);
    EXPECT_FALSE(ok->server_version.empty());

    std::string out;
    encode_ping(out, 5, ping{"abc"});
    auto f = call(*c, out);
    EXPECT_EQ(f.header.type, message_type::pong);
    EXPECT_EQ(f.header.request_id, 5u);

    create_topic(*c, "meta", 3);
    out.clear();
    encode(out, 6, metadata_request{});
    f = call(*c, out);
    ASSERT_EQ(f.header.type, message_type::metadata_info);
    auto m = decode_metadata_reply(f.body);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->nodes.size(), 1u);
    EXPECT_EQ(m->nodes[0].node_id, 1u);
    EXPECT_EQ(m->nodes[0].native_port, ports_.native);
    EXPECT_EQ(m->nodes[0].host, "127.0.0.1");
    ASSERT_EQ(m->topics.size(), 1u);
    EXPECT_EQ(m->topics[0].leader_by_partition, (std::vector<uint32_t>{1, 1, 1}));

    out.clear();
    encode(out, 8, metadata_request{{"nope"}});
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::not_found));
}

// The node fixes each native connection's send buffer at --native-send-buffer-bytes (98304
// here, which Linux doubles), as `ss` (iproute2) reports it for the node's end of a connection.
TEST_F(native_protocol_test, connections_get_the_send_buffer_the_node_is_given) {
    auto c = connect();
    ASSERT_NE(c, nullptr);
    const std::string command =
        "ss -tmnH state established '( sport = :" + std::to_string(ports_.native) + " )' 2>&1";
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        ::pclose(p);
    }
    // skmem:(r0,rb131072,t0,tb196608,f0,w0,o0,bl0,d0): tb is the send buffer.
    const auto at = out.find(",tb");
    ASSERT_NE(at, std::string::npos) << command << " gave: " << out;
    EXPECT_EQ(std::stoul(out.substr(at + 3)), 2u * 98304) << out;
    EXPECT_EQ(out.find(",tb", at + 1), std::string::npos) << "one connection only: " << out;
}

TEST_F(native_protocol_test, topic_requests) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "orders", 2);

    std::string out;
    topic_settings s;
    s.name = "orders";
    encode(out, 10, create_topic_request{s});
    auto f = call(*c, out);
    auto e = error_of(f);
    EXPECT_EQ(f.header.request_id, 10u);
    EXPECT_EQ(e.code, static_cast<uint16_t>(errc::already_exists));
    EXPECT_FALSE(e.retryable);

    out.clear();
    s.name = "bad name!";
    encode(out, 11, create_topic_request{s});
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::invalid_argument));

    out.clear();
    encode_describe_topic(out, 12, topic_name_request{"orders"});
    f = call(*c, out);
    ASSERT_EQ(f.header.type, message_type::topic_info);
    auto d = decode_topic_info(f.body);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->settings.name, "orders");
    EXPECT_EQ(d->partitions.size(), 2u);
    EXPECT_EQ(d->partitions[1].leader_node, 1u);

    out.clear();
    encode_list_topics(out, 13);
    f = call(*c, out);
    ASSERT_EQ(f.header.type, message_type::topic_list);
    EXPECT_EQ(decode_topic_list(f.body)->topics.size(), 1u);

    out.clear();
    encode_delete_topic(out, 14, topic_name_request{"orders"});
    EXPECT_EQ(call(*c, out).header.type, message_type::ok);
    out.clear();
    encode_describe_topic(out, 15, topic_name_request{"orders"});
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::not_found));
    out.clear();
    encode_delete_topic(out, 16, topic_name_request{"orders"});
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::not_found));
}

// Topic creation and deletion run off the io thread; requests pipelined behind them still see
// their effect, and the answers keep the request order.
TEST_F(native_protocol_test, requests_pipelined_after_topic_admin_see_its_effect) {
    auto c = connect();
    ASSERT_TRUE(c);
    // Each batch is sent in one write; `expected` the answers' types, in request order from
    // request id `first_id`.
    auto expect_answers = [&](const std::string& out, uint64_t first_id,
                              std::vector<message_type> expected) {
        ASSERT_TRUE(c->send_raw(out));
        for (size_t i = 0; i < expected.size(); ++i) {
            auto f = c->read_frame();
            ASSERT_TRUE(f) << f.err().message;
            EXPECT_EQ(f->header.request_id, first_id + i);
            EXPECT_EQ(f->header.type, expected[i])
                << (f->header.type == message_type::error ? error_of(*f).message : "");
            if (f->header.type == message_type::error && expected[i] == message_type::error) {
                // The describe after the deletion: the topic is gone.
                EXPECT_EQ(error_of(*f).code, static_cast<uint16_t>(errc::not_found));
            }
        }
    };
    std::string out;
    topic_settings s;
    s.name = "piped";
    encode(out, 20, create_topic_request{s});
    publish_request p;
    p.topic = "piped";
    p.acks = acks_level::leader;
    p.partition = 0;
    p.events.push_back(wire_event{false, 0, {}, "first", 0, 0});
    encode(out, 21, p);
    encode_ping(out, 22, ping{"after"});
    expect_answers(out, 20,
                   {message_type::topic_info, message_type::publish_ack, message_type::pong});
    // A publish racing a deletion may be refused either way, so the deletion goes alone.
    out.clear();
    encode_delete_topic(out, 30, topic_name_request{"piped"});
    encode_describe_topic(out, 31, topic_name_request{"piped"});
    encode_ping(out, 32, ping{"after"});
    expect_answers(out, 30, {message_type::ok, message_type::error, message_type::pong});
}

TEST_F(native_protocol_test, publish_and_subscribe_round_trip_in_order) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "rt");
    for (int i = 0; i < 10; ++i) {
        auto ack = publish(*c, "rt", i * 10, i * 10 + 10);
        ASSERT_EQ(ack.batches.size(), 1u);
        EXPECT_EQ(ack.batches[0].base_offset, static_cast<uint64_t>(i * 10));
        EXPECT_EQ(ack.batches[0].count, 10u);
    }
    // Keys and headers come back as sent.
    publish_request p;
    p.topic = "rt";
    p.partition = 0;
    p.headers = {{"trace", "t-1"}};
    p.events = {wire_event{true, 12345, "the-key", "keyed", 0, 1}};
    std::string out;
    encode(out, 200, p);
    ASSERT_EQ(call(*c, out).header.type, message_type::publish_ack);

    auto got = read_back("rt", 101);
    ASSERT_EQ(got.size(), 101u);
    got.pop_back();
    expect_payloads(got, 100);
    auto last = read_back("rt", 101).back();
    EXPECT_TRUE(last.has_key);
    EXPECT_EQ(last.key, "the-key");
    EXPECT_EQ(last.payload, "keyed");
    EXPECT_NE(last.headers.find("t-1"), std::string::npos);
}

TEST_F(native_protocol_test, live_subscription_sees_later_publishes) {
    auto sub = connect();
    auto pub = connect();
    ASSERT_TRUE(sub && pub);
    create_topic(*pub, "live");
    subscribe_request s;
    s.topic = "live";
    s.start = start_kind::latest;
    s.credit_events = 1000;
    s.credit_bytes = 1 << 20;
    auto sd = subscribe(*sub, s, 42);
    EXPECT_EQ(sd.partitions, (std::vector<uint32_t>{0}));
    publish(*pub, "live", 0, 20);
    auto f = sub->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, message_type::events);
    EXPECT_EQ(f->header.request_id, 42u);
    auto e = decode_events(f->body);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->subscription_id, sd.subscription_id);
    auto got = records_of(*e);
    auto more = read_events(*sub, 20 - got.size());
    got.insert(got.end(), more.begin(), more.end());
    expect_payloads(got, 20);
}

TEST_F(native_protocol_test, credit_bounds_what_is_sent) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "fc");
    publish(*c, "fc", 0, 10);
    subscribe_request s;
    s.topic = "fc";
    s.start = start_kind::earliest;
    s.credit_events = 3;
    s.credit_bytes = 1 << 20;
    auto sd = subscribe(*c, s);
    auto got = read_events(*c, 10, milliseconds(500));
    ASSERT_EQ(got.size(), 3u);

    std::string out;
    encode(out, 60, credit_grant{sd.subscription_id, 4, 0});
    ASSERT_TRUE(c->send_raw(out));
    auto more = read_events(*c, 10, milliseconds(500));
    EXPECT_EQ(more.size(), 4u);

    // Byte credit is what is left of 1 MiB: with more events granted, the rest arrives.
    out.clear();
    encode(out, 62, credit_grant{sd.subscription_id, 100, 0});
    ASSERT_TRUE(c->send_raw(out));
    auto rest = read_events(*c, 10, milliseconds(500));
    EXPECT_EQ(rest.size(), 3u);
    got.insert(got.end(), more.begin(), more.end());
    got.insert(got.end(), rest.begin(), rest.end());
    expect_payloads(got, 10);

    // A credit for a subscription that does not exist is refused, the connection stays.
    out.clear();
    encode(out, 63, credit_grant{999, 1, 1});
    auto f = call(*c, out);
    EXPECT_EQ(f.header.request_id, 63u);
    EXPECT_EQ(error_of(f).code, static_cast<uint16_t>(errc::not_found));
}

TEST_F(native_protocol_test, byte_credit_holds_back_a_record_until_it_fits) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "bytes");
    publish(*c, "bytes", 0, 2);  // records of 40 bytes each: 32 + "event-N", aligned to 8
    subscribe_request s;
    s.topic = "bytes";
    s.start = start_kind::earliest;
    s.credit_events = 100;
    s.credit_bytes = 39;
    auto sd = subscribe(*c, s);
    EXPECT_TRUE(read_events(*c, 1, milliseconds(500)).empty());
    std::string out;
    encode(out, 70, credit_grant{sd.subscription_id, 0, 1});
    ASSERT_TRUE(c->send_raw(out));
    auto got = read_events(*c, 2, milliseconds(500));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "event-0");
    out.clear();
    encode(out, 71, credit_grant{sd.subscription_id, 0, 40});
    ASSERT_TRUE(c->send_raw(out));
    got = read_events(*c, 1, milliseconds(2000));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "event-1");
}

TEST_F(native_protocol_test, pipelined_requests_are_answered_in_order) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "pipe");
    std::string out;
    constexpr int n = 600;  // beyond the in-flight limit: the server pushes back, loses nothing
    for (int i = 0; i < n; ++i) {
        if (i % 3 == 0) {
            publish_request p;
            p.topic = "pipe";
            p.partition = 0;
            const std::string payload = "event-" + std::to_string(i / 3);
            p.events = {wire_event{false, 0, {}, payload, 0, 0}};
            encode(out, 1000 + i, p);
        } else {
            encode_ping(out, 1000 + i, ping{std::to_string(i)});
        }
    }
    ASSERT_TRUE(c->send_raw(out));
    for (int i = 0; i < n; ++i) {
        auto f = c->read_frame();
        ASSERT_TRUE(f) << i << ": " << f.err().message;
        ASSERT_EQ(f->header.request_id, static_cast<uint64_t>(1000 + i));
        if (i % 3 == 0) {
            ASSERT_EQ(f->header.type, message_type::publish_ack);
            EXPECT_EQ(decode_publish_ack(f->body)->batches[0].base_offset,
                      static_cast<uint64_t>(i / 3));
        } else {
            ASSERT_EQ(f->header.type, message_type::pong);
        }
    }
    expect_payloads(read_back("pipe", n / 3), n / 3);
}

TEST_F(native_protocol_test, groups_commit_fetch_and_resume) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "grp");
    publish(*c, "grp", 0, 10);
    std::string out;
    encode(out, 80, fetch_offset_request{"grp", "g1", 0});
    auto f = call(*c, out);
    ASSERT_EQ(f.header.type, message_type::offset);
    EXPECT_FALSE(decode_offset(f.body)->offset);

    out.clear();
    encode(out, 81, commit_offset_request{"grp", "g1", 0, 6});
    EXPECT_EQ(call(*c, out).header.type, message_type::ok);
    out.clear();
    encode(out, 82, fetch_offset_request{"grp", "g1", 0});
    f = call(*c, out);
    EXPECT_EQ(decode_offset(f.body)->offset, std::optional<uint64_t>(6));

    out.clear();
    encode(out, 83, commit_offset_request{"grp", "bad group!", 0, 1});
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::invalid_argument));
    out.clear();
    encode(out, 84, commit_offset_request{"grp", "g1", 5, 1});
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::not_found));

    subscribe_request s;
    s.topic = "grp";
    s.group = "g1";
    s.start = start_kind::committed;
    s.fallback = start_kind::earliest;
    s.credit_events = 100;
    s.credit_bytes = 1 << 20;
    auto sd = subscribe(*c, s);
    auto got = read_events(*c, 4);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].offset, 6u);
    EXPECT_EQ(got[3].payload, "event-9");

    out.clear();
    encode(out, 85, unsubscribe_request{sd.subscription_id});
    EXPECT_EQ(call(*c, out).header.type, message_type::ok);
    out.clear();
    encode(out, 86, unsubscribe_request{sd.subscription_id});
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::not_found));
}

TEST_F(native_protocol_test, idempotent_producer_appends_once) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "idem");
    publish_request p;
    p.topic = "idem";
    p.partition = 0;
    p.producer_id = 42;
    p.first_sequence = 0;
    const std::string a = "event-0", b = "event-1";
    p.events = {wire_event{false, 0, {}, a, 0, 0}, wire_event{false, 0, {}, b, 0, 0}};
    std::string out;
    encode(out, 90, p);
    auto f = call(*c, out);
    ASSERT_EQ(f.header.type, message_type::publish_ack) << error_of(f).message;
    EXPECT_FALSE(decode_publish_ack(f.body)->batches[0].duplicate);
    f = call(*c, out);  // the same batch again: a retry
    ASSERT_EQ(f.header.type, message_type::publish_ack) << error_of(f).message;
    EXPECT_TRUE(decode_publish_ack(f.body)->batches[0].duplicate);

    p.partition.reset();
    out.clear();
    encode(out, 91, p);
    EXPECT_EQ(error_of(call(*c, out)).code, static_cast<uint16_t>(errc::invalid_argument));
    expect_payloads(read_back("idem", 2), 2);
}

TEST_F(native_protocol_test, a_retry_straddling_the_next_number_is_acked_as_its_two_parts) {
    // A retry cut differently from its first send (as a node with a smaller ingest queue cuts
    // it after a failover): numbers 2..7 after 0..4 got in. The node appends 5..7 and answers
    // with two batches, the duplicate head and the appended rest.
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "straddle");
    std::vector<std::string> payloads;
    for (int i = 0; i < 8; ++i) payloads.push_back("event-" + std::to_string(i));
    auto publish_range = [&](uint64_t request_id, uint32_t from, uint32_t to) {
        publish_request p;
        p.topic = "straddle";
        p.partition = 0;
        p.producer_id = 43;
        p.first_sequence = from;
        for (uint32_t i = from; i < to; ++i)
            p.events.push_back(wire_event{false, 0, {}, payloads[i], 0, 0});
        std::string out;
        encode(out, request_id, p);
        return call(*c, out);
    };
    auto f = publish_range(92, 0, 5);
    ASSERT_EQ(f.header.type, message_type::publish_ack) << error_of(f).message;
    f = publish_range(93, 2, 8);
    ASSERT_EQ(f.header.type, message_type::publish_ack) << error_of(f).message;
    auto ack = decode_publish_ack(f.body);
    ASSERT_TRUE(ack);
    ASSERT_EQ(ack->batches.size(), 2u);
    EXPECT_TRUE(ack->batches[0].duplicate);
    EXPECT_TRUE(ack->batches[0].offset_known);
    EXPECT_EQ(ack->batches[0].base_offset, 2u);
    EXPECT_EQ(ack->batches[0].count, 3u);
    EXPECT_FALSE(ack->batches[1].duplicate);
    EXPECT_EQ(ack->batches[1].base_offset, 5u);
    EXPECT_EQ(ack->batches[1].count, 3u);
    expect_payloads(read_back("straddle", 8), 8);
    expect_serving();
}

TEST_F(native_protocol_test, large_publishes_lent_to_the_engine_are_stored_as_sent) {
    // PUBLISH frames of 32 KiB or more with acks, of events of 64 bytes or more on average, are
    // read by the engine where they were received (the frame kept until its answer). 94 of them
    // pipelined (about 5 MiB, more than the reader's 4 MiB of storage, so that it moves on to
    // fresh storage around kept frames), with keys, headers and timestamps, between copied ones
    // (small PUBLISHes, large ones with acks=0, and large ones of 1-byte events): every event
    // is stored as it was sent, in order, and exactly the 94 frames were lent.
    auto c = connect();
    ASSERT_TRUE(c);
    create_roomy_topic(*c, "lent");
    const double lent_before = metric("eventstream_native_publishes_lent_total");
    struct sent_event {
        bool has_key;
        std::string key, payload, headers;  // headers: the record's raw region
        int64_t timestamp_ns;
    };
    std::vector<sent_event> sent;
    std::string out;
    int lent_frames = 0;
    constexpr int frames = 130;
    for (int frame = 0; frame < frames; ++frame) {
        const bool small = frame % 11 == 5;
        const bool fire_and_forget = frame % 11 == 8;
        const bool tiny = frame % 11 == 2;  // over 32 KiB, but of 1-byte events: copied
        const int events = small ? 2 : tiny ? 2500 : 40;
        // The views below point into these; they live until the frame is encoded.
        std::vector<std::string> keys, payloads, names, values;
        publish_request p;
        p.topic = "lent";
        p.partition = 0;
        p.acks = fire_and_forget ? acks_level::none : acks_level::leader;
        for (int i = 0; i < events; ++i) {
            const int n = static_cast<int>(sent.size());
            keys.push_back(n % 3 == 0 ? "" : "key-" + std::to_string(n));
            payloads.push_back(tiny ? std::string(1, static_cast<char>('a' + n % 26))
                                    : std::string(1000 + n % 300, static_cast<char>('a' + n % 26)) +
                                          std::to_string(n));
            const bool has_key = !tiny && n % 4 != 0;
            sent_event e{has_key, has_key ? keys.back() : "", payloads.back(), "",
                         1'700'000'000'000'000'000LL + n};
            if (!tiny && n % 5 == 0) {
                names.push_back("h" + std::to_string(n));
                values.push_back("value-" + std::to_string(n));
                const auto name_len = static_cast<uint16_t>(names.back().size());
                const auto value_len = static_cast<uint32_t>(values.back().size());
                e.headers.append(reinterpret_cast<const char*>(&name_len), 2);
                e.headers.append(reinterpret_cast<const char*>(&value_len), 4);
                e.headers += names.back() + values.back();
            }
            sent.push_back(e);
        }
        // Second pass, now that the strings no longer move.
        for (int i = 0, h = 0; i < events; ++i) {
            const sent_event& e = sent[sent.size() - events + i];
            wire_event w{e.has_key,
                         e.timestamp_ns,
                         e.has_key ? std::string_view(keys[i]) : std::string_view(),
                         payloads[i],
                         0,
                         0};
            if (!e.headers.empty()) {
                w.first_header = static_cast<uint32_t>(p.headers.size());
                w.header_count = 1;
                p.headers.push_back(wire_header{names[h], values[h]});
                ++h;
            }
            p.events.push_back(w);
        }
        const size_t before = out.size();
        encode(out, 2000 + frame, p);
        if (!small) ASSERT_GE(out.size() - before, 32u << 10);
        if (!small && !fire_and_forget && !tiny) ++lent_frames;
    }
    ASSERT_TRUE(c->send_raw(out));
    uint64_t next_offset = 0;
    for (int frame = 0; frame < frames; ++frame) {
        if (frame % 11 == 8) {  // acks=0: no answer; its events sit between the others
            next_offset += 40;
            continue;
        }
        auto f = c->read_frame();
        ASSERT_TRUE(f);
        ASSERT_EQ(f->header.type, message_type::publish_ack) << error_of(*f).message;
        EXPECT_EQ(f->header.request_id, static_cast<uint64_t>(2000 + frame));
        auto ack = decode_publish_ack(f->body);
        ASSERT_TRUE(ack);
        ASSERT_EQ(ack->batches.size(), 1u);
        EXPECT_EQ(ack->batches[0].base_offset, next_offset) << frame;
        next_offset += ack->batches[0].count;
    }
    ASSERT_EQ(next_offset, sent.size());
    const auto got = read_back("lent", sent.size());
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
        EXPECT_EQ(got[i].offset, i);
        EXPECT_EQ(got[i].has_key, sent[i].has_key) << i;
        EXPECT_EQ(got[i].key, sent[i].key) << i;
        EXPECT_EQ(got[i].payload, sent[i].payload) << i;
        EXPECT_EQ(got[i].headers, sent[i].headers) << i;
        EXPECT_EQ(got[i].timestamp_ns, sent[i].timestamp_ns) << i;
    }
    EXPECT_EQ(lent_frames, 94);
    EXPECT_EQ(metric("eventstream_native_publishes_lent_total"), lent_before + lent_frames);
    expect_serving();
}

TEST_F(native_protocol_test, acks_zero_is_silent_unless_refused) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "fire");
    publish_request p;
    p.topic = "fire";
    p.acks = acks_level::none;
    p.partition = 0;
    const std::string payload = "event-0";
    p.events = {wire_event{false, 0, {}, payload, 0, 0}};
    std::string out;
    encode(out, 95, p);
    p.topic = "missing";
    encode(out, 96, p);
    encode_ping(out, 97, ping{});
    ASSERT_TRUE(c->send_raw(out));
    auto f = c->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.request_id, 96u);
    EXPECT_EQ(error_of(*f).code, static_cast<uint16_t>(errc::not_found));
    f = c->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, message_type::pong);
    expect_payloads(read_back("fire", 1), 1);
}

TEST_F(native_protocol_test, bad_handshakes_get_an_error_and_a_close) {
    {
        auto c = connect(false);
        std::string out;
        encode_ping(out, 3, ping{});
        auto f = call(*c, out);
        EXPECT_EQ(f.header.request_id, 3u);
        auto e = error_of(f);
        EXPECT_EQ(e.code, static_cast<uint16_t>(errc::invalid_argument));
        EXPECT_EQ(e.message, "the first frame must be HELLO, got PING");
        EXPECT_TRUE(c->wait_closed());
    }
    {
        auto c = connect(false);
        std::string out;
        encode(out, 4, hello{2, 3, 0, "future"});
        auto e = error_of(call(*c, out));
        EXPECT_EQ(e.code, static_cast<uint16_t>(errc::not_supported));
        EXPECT_EQ(e.message, "no common protocol version: the client speaks 2..3, the server 1..1");
        EXPECT_TRUE(c->wait_closed());
    }
    {
        // Of the capability bits offered, the server grants those it knows.
        auto c = connect(false);
        std::string out;
        encode(out, 6, hello{1, 1, ~uint64_t{0}, "all bits"});
        const auto f = call(*c, out);
        ASSERT_EQ(f.header.type, message_type::hello_ok);
        auto ok = decode_hello_ok(f.body);
        ASSERT_TRUE(ok);
        EXPECT_EQ(ok->capabilities, protocol::known_capabilities);
    }
    {
        auto c = connect();
        std::string out;
        encode(out, 5, hello{});
        EXPECT_EQ(error_of(call(*c, out)).message, "HELLO: sent twice");
        EXPECT_TRUE(c->wait_closed());
    }
    expect_serving();
}

TEST_F(native_protocol_test, malformed_and_oversized_frames_close_the_connection) {
    auto keep = connect();
    create_topic(*keep, "safe");
    publish(*keep, "safe", 0, 5);

    auto header = [](uint32_t bytes, uint16_t type, uint16_t flags, uint64_t id) {
        std::string h(16, '\0');
        std::memcpy(h.data(), &bytes, 4);
        std::memcpy(h.data() + 4, &type, 2);
        std::memcpy(h.data() + 6, &flags, 2);
        std::memcpy(h.data() + 8, &id, 8);
        return h;
    };
    struct bad_case {
        std::string bytes;
        errc code;
        std::string message;
    };
    std::string truncated;
    encode_delete_topic(truncated, 21, topic_name_request{"safe"});
    truncated.resize(truncated.size() - 1);
    const uint32_t shorter = static_cast<uint32_t>(truncated.size());
    std::memcpy(truncated.data(), &shorter, 4);
    std::string server_type;
    encode_ok(server_type, 22);
    const std::vector<bad_case> cases = {
        {header(65537, 0x0002, 0, 1), errc::too_large,
         "frame_bytes: 65537 bytes, the limit is 65536"},
        {header(8, 0x0002, 0, 1), errc::invalid_argument,
         "frame_bytes: 8 is below the 16-byte header"},
        {header(16, 0x0777, 0, 1), errc::invalid_argument, "type: unknown message type 1911"},
        {header(16, 0x0002, 4, 1), errc::invalid_argument, "flags: must be 0, got 4"},
        {truncated, errc::invalid_argument, "name: runs past the end of the frame"},
        {server_type, errc::invalid_argument, "type: OK is sent by the server, not to it"},
    };
    for (const bad_case& b : cases) {
        auto c = connect();
        ASSERT_TRUE(c);
        ASSERT_TRUE(c->send_raw(b.bytes));
        auto f = c->read_frame();
        ASSERT_TRUE(f) << b.message << ": " << f.err().message;
        auto e = error_of(*f);
        EXPECT_EQ(e.code, static_cast<uint16_t>(b.code)) << b.message;
        EXPECT_EQ(e.message, b.message);
        EXPECT_TRUE(c->wait_closed()) << b.message;
    }
    // A frame the header of which is fine but whose body is garbage, after good requests that
    // are answered first.
    auto c = connect();
    std::string out;
    encode_ping(out, 30, ping{"first"});
    out += header(20, static_cast<uint16_t>(message_type::credit), 0, 31) + "junk";
    ASSERT_TRUE(c->send_raw(out));
    auto f = c->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, message_type::pong);
    f = c->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.request_id, 31u);
    EXPECT_EQ(error_of(*f).message, "subscription_id: runs past the end of the frame");
    EXPECT_TRUE(c->wait_closed());

    EXPECT_GE(metric("eventstream_native_errors_total{kind=\"protocol\"}"), 7);
    expect_serving();
    expect_payloads(read_back("safe", 5), 5);
}

TEST_F(native_protocol_test, abrupt_disconnects_lose_nothing_accepted) {
    auto keep = connect();
    create_topic(*keep, "abrupt");
    publish(*keep, "abrupt", 0, 50);
    {
        // Mid-frame.
        auto c = connect();
        std::string out;
        publish_request p;
        p.topic = "abrupt";
        p.partition = 0;
        const std::string payload = "never";
        p.events = {wire_event{false, 0, {}, payload, 0, 0}};
        encode(out, 1, p);
        ASSERT_TRUE(c->send_raw(std::string_view(out).substr(0, out.size() / 2)));
        c->close();
    }
    {
        // Mid-subscription, with events on their way.
        auto c = connect();
        subscribe_request s;
        s.topic = "abrupt";
        s.start = start_kind::earliest;
        s.credit_events = 1000;
        s.credit_bytes = 1 << 20;
        subscribe(*c, s);
        c->close();
    }
    {
        // Mid-publish: the requests are sent, the answers never read.
        auto c = connect();
        std::string out;
        for (int i = 50; i < 60; ++i) {
            publish_request p;
            p.topic = "abrupt";
            p.partition = 0;
            const std::string payload = "event-" + std::to_string(i);
            p.events = {wire_event{false, 0, {}, payload, 0, 0}};
            encode(out, i, p);
        }
        encode_ping(out, 99, ping{});
        ASSERT_TRUE(c->send_raw(out));
        // The PONG comes after every PUBLISH_ACK: all ten were appended.
        for (;;) {
            auto f = c->read_frame();
            ASSERT_TRUE(f);
            if (f->header.type == message_type::pong) break;
        }
        c->close();
    }
    expect_serving();
    expect_payloads(read_back("abrupt", 60), 60);
}

TEST_F(native_protocol_test, a_client_whose_writes_always_end_mid_frame_is_not_a_slowloris) {
    auto c = connect();
    ASSERT_TRUE(c);
    // A frame completes every 100 ms, but every write ends halfway through the next frame, so
    // the server never finds its buffer empty between frames, for 2.5 s: more than the 1 s
    // frame time-out, which counts from the last frame finished, not from an empty buffer.
    constexpr int frames = 26;
    std::string stream;
    for (int i = 0; i < frames; ++i) encode_ping(stream, 100 + i, ping{"0123456789"});
    const size_t frame = stream.size() / frames;
    size_t sent = frame / 2;
    ASSERT_TRUE(c->send_raw(std::string_view(stream).substr(0, sent)));
    for (int i = 0; i + 1 < frames; ++i) {
        std::this_thread::sleep_for(milliseconds(100));
        ASSERT_TRUE(c->send_raw(std::string_view(stream).substr(sent, frame))) << i;
        sent += frame;
    }
    ASSERT_TRUE(c->send_raw(std::string_view(stream).substr(sent)));
    for (int i = 0; i < frames; ++i) {
        auto f = c->read_frame();
        ASSERT_TRUE(f) << "pong " << i << ": " << f.err().message;
        EXPECT_EQ(f->header.type, message_type::pong);
        EXPECT_EQ(f->header.request_id, uint64_t(100 + i));
    }
    EXPECT_EQ(metric("eventstream_native_errors_total{kind=\"frame_timeout\"}"), 0);
    expect_serving();
}

TEST_F(native_protocol_test, a_subscriber_that_stops_reading_is_disconnected_at_the_write_timeout) {
    auto pub = connect();
    auto sub = connect();
    ASSERT_TRUE(pub && sub);
    create_roomy_topic(*pub, "unread");
    subscribe_unlimited(*sub, "unread");
    // 48 MiB of events, far more than the node queues for one connection (8 MiB) and both
    // sockets' buffers hold: the node's write to `sub`, which never reads again, cannot finish.
    publish_filler(*pub, "unread", 800);
    // Closed within the write time-out (1 s here) of its write's last progress, not held.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (metric("eventstream_native_errors_total{kind=\"write_timeout\"}") < 1 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_GE(metric("eventstream_native_errors_total{kind=\"write_timeout\"}"), 1);
    EXPECT_TRUE(sub->wait_closed(milliseconds(5000)));
    // The publisher, which reads its acks, is not touched.
    std::string ping_frame;
    encode_ping(ping_frame, 9, ping{"ok"});
    EXPECT_EQ(call(*pub, ping_frame).header.type, message_type::pong);
    expect_serving();
}

TEST_F(native_protocol_test, a_subscriber_that_reads_slowly_but_steadily_is_not_disconnected) {
    auto pub = connect();
    auto sub = connect();
    ASSERT_TRUE(pub && sub);
    create_roomy_topic(*pub, "slow");
    // 16 MiB of events, published before the subscriber reads anything.
    constexpr int batches = 270;
    constexpr int per_batch = 60;
    publish_filler(*pub, "slow", batches);
    subscribe_unlimited(*sub, "slow");
    // Read at ~3 MB/s: one gather write of the node's queue (up to 8 MiB) takes seconds,
    // longer than the 1 s write time-out, but bytes move all the time, so the node keeps it.
    uint64_t got = 0;
    size_t since_pause = 0;  // bytes read since the last pause
    auto pinged = std::chrono::steady_clock::now();
    while (got < uint64_t(batches) * per_batch) {
        // A pure subscriber pings within a third of the idle time-out (1.5 s here).
        if (std::chrono::steady_clock::now() - pinged > milliseconds(300)) {
            std::string p;
            encode_ping(p, 5, ping{});
            ASSERT_TRUE(sub->send_raw(p));
            pinged = std::chrono::steady_clock::now();
        }
        auto f = sub->read_frame(std::chrono::seconds(5));
        ASSERT_TRUE(f) << "after " << got << " events: " << f.err().message;
        if (f->header.type != message_type::events) continue;
        auto e = decode_events(f->body);
        ASSERT_TRUE(e);
        got += records_of(*e).size();
        since_pause += f->body.size();
        if (since_pause >= 64 * 1024) {
            std::this_thread::sleep_for(std::chrono::microseconds(since_pause / 3));
            since_pause = 0;
        }
    }
    EXPECT_EQ(got, uint64_t(batches) * per_batch);
    EXPECT_EQ(metric("eventstream_native_errors_total{kind=\"write_timeout\"}"), 0);
    expect_serving();
}

TEST_F(native_protocol_test, the_65th_subscription_on_a_connection_is_refused) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "many-subs");
    subscribe_request s;
    s.topic = "many-subs";
    for (uint64_t i = 0; i < 64; ++i) subscribe(*c, s, 100 + i);
    std::string out;
    encode(out, 200, s);
    const auto refused = error_of(call(*c, out));
    EXPECT_EQ(refused.code, static_cast<uint16_t>(errc::too_large));
    EXPECT_NE(refused.message.find("64"), std::string::npos) << refused.message;
    // Refused, not a protocol error: the connection goes on.
    std::string p;
    encode_ping(p, 201, ping{});
    EXPECT_EQ(call(*c, p).header.type, message_type::pong);
}

TEST_F(native_protocol_test, a_publish_the_ingest_queue_has_no_room_for_waits_for_it) {
    // A node whose ingest queue holds about ten of these PUBLISHes, and a durable topic (each
    // worker pass writes RocksDB) that four connections flood with pipelined PUBLISHes: the
    // queue fills (the engine refuses with queue_full), and every PUBLISH is still answered
    // PUBLISH_ACK, in order, each connection's events appended in order.
    server_launch launch;
    launch.flags["ingest_queue_bytes"] = "65536";
    node_ = start_ready(launch, &ports_);  // this node, not the fixture's, from here on
    ASSERT_NE(node_, nullptr);
    {
        auto c = connect();
        ASSERT_TRUE(c);
        std::string out;
        topic_settings s;
        s.name = "held";
        s.storage = 1;
        s.max_event_bytes = 1024;
        encode(out, 7, create_topic_request{s});
        auto f = call(*c, out);
        ASSERT_EQ(f.header.type, message_type::topic_info) << error_of(f).message;
    }
    constexpr int connections = 4, frames = 60, per_frame = 20;
    const auto payload = [](int c, int i) {
        return "c" + std::to_string(c) + "-" + std::to_string(100000 + i) + std::string(300, '.');
    };
    std::vector<std::unique_ptr<native_test_client>> clients;
    for (int c = 0; c < connections; ++c) {
        clients.push_back(connect());
        ASSERT_TRUE(clients.back());
        std::string out;
        for (int k = 0; k < frames; ++k) {
            publish_request p;
            p.topic = "held";
            p.acks = acks_level::leader;
            p.partition = 0;
            std::vector<std::string> payloads;
            for (int i = 0; i < per_frame; ++i) payloads.push_back(payload(c, k * per_frame + i));
            for (const auto& v : payloads) p.events.push_back(wire_event{false, 0, {}, v, 0, 0});
            encode(out, 1000 + k, p);
        }
        ASSERT_TRUE(clients.back()->send_raw(out));
    }
    for (int c = 0; c < connections; ++c) {
        for (int k = 0; k < frames; ++k) {
            auto f = clients[c]->read_frame();
            ASSERT_TRUE(f) << f.err().message;
            ASSERT_EQ(f->header.request_id, static_cast<uint64_t>(1000 + k));
            ASSERT_EQ(f->header.type, message_type::publish_ack)
                << "connection " << c << ", PUBLISH " << k << ": "
                << (f->header.type == message_type::error ? error_of(*f).message : "");
        }
    }
    EXPECT_GT(metric("eventstream_publish_refused_total{reason=\"queue_full\"}"), 0)
        << "the queue never filled: this test saw no wait";
    const auto got = read_back("held", connections * frames * per_frame);
    ASSERT_EQ(got.size(), size_t(connections * frames * per_frame));
    std::vector<int> next(connections, 0);
    for (const auto& e : got) {
        const int c = e.payload[1] - '0';
        ASSERT_TRUE(c >= 0 && c < connections) << e.payload;
        EXPECT_EQ(e.payload, payload(c, next[c]++));
    }
    expect_serving();
}

TEST_F(native_protocol_test, a_connection_past_the_limit_is_refused_with_queue_full) {
    server_launch launch;
    launch.flags["native_connections_max"] = "2";
    server::ports_record small;
    ASSERT_NE(start_ready(launch, &small), nullptr);
    auto first = native_test_client::connect(small.native);
    auto second = native_test_client::connect(small.native);
    ASSERT_TRUE(first && second);
    ASSERT_TRUE((*first)->handshake());
    ASSERT_TRUE((*second)->handshake());
    // The third gets ERROR queue_full (request id 0), then the close.
    auto third = native_test_client::connect(small.native);
    ASSERT_TRUE(third) << third.err().message;
    auto f = (*third)->read_frame();
    ASSERT_TRUE(f) << f.err().message;
    ASSERT_EQ(f->header.type, message_type::error);
    EXPECT_EQ(f->header.request_id, 0u);
    const auto e = decode_error(f->body);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, static_cast<uint16_t>(errc::queue_full));
    EXPECT_TRUE(e->retryable);
    EXPECT_TRUE((*third)->wait_closed());
    // Refused connections whose clients do not close linger (up to 2 s) to hand over their
    // ERROR, but they do not hold the slot that frees next.
    std::vector<std::unique_ptr<native_test_client>> refused;
    for (int i = 0; i < 3; ++i) {
        auto r = native_test_client::connect(small.native);
        ASSERT_TRUE(r);
        auto rf = (*r)->read_frame();
        ASSERT_TRUE(rf && rf->header.type == message_type::error);
        refused.push_back(std::move(*r));
    }
    // One closes: a new connection is taken again, well within the refused ones' linger.
    (*first)->close();
    bool taken = false;
    for (int i = 0; i < 10 && !taken; ++i) {
        auto again = native_test_client::connect(small.native);
        ASSERT_TRUE(again);
        taken = static_cast<bool>((*again)->handshake());
        if (!taken) std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_TRUE(taken);
}

// A storm of connections past the limit: 64 refused ones may wait at once for their clients
// to close; more are closed at once, without an ERROR, and the node goes on serving.
TEST_F(native_protocol_test, refused_connections_past_64_are_closed_without_an_error) {
    server_launch launch;
    launch.flags["native_connections_max"] = "1";
    server::ports_record small;
    ASSERT_NE(start_ready(launch, &small), nullptr);
    auto held = native_test_client::connect(small.native);
    ASSERT_TRUE(held && (*held)->handshake());
    std::vector<std::unique_ptr<native_test_client>> refused;
    for (int i = 0; i < 64; ++i) {
        auto r = native_test_client::connect(small.native);
        ASSERT_TRUE(r);
        auto f = (*r)->read_frame();
        ASSERT_TRUE(f) << "connection " << i << ": " << f.err().message;
        ASSERT_EQ(f->header.type, message_type::error);
        refused.push_back(std::move(*r));
    }
    auto more = native_test_client::connect(small.native);
    ASSERT_TRUE(more);
    auto none = (*more)->read_frame(std::chrono::seconds(3));
    ASSERT_FALSE(none) << "the 66th connection got a frame";
    EXPECT_NE(none.err().code, errc::timed_out) << "the 66th connection was not closed";
    std::string p;
    encode_ping(p, 7, ping{});
    ASSERT_TRUE((*held)->send_raw(p));
    auto pong = (*held)->read_frame();
    ASSERT_TRUE(pong) << pong.err().message;
    EXPECT_EQ(pong->header.type, message_type::pong);
}

TEST_F(native_protocol_test, idle_slowloris_and_silent_connections_are_closed) {
    auto idle = connect();
    auto slow = connect();
    auto silent = connect(false);
    ASSERT_TRUE(idle && slow && silent);
    std::string out;
    encode_ping(out, 1, ping{"slow"});
    ASSERT_TRUE(slow->send_raw(std::string_view(out).substr(0, 10)));
    // A connection that pings is not idle.
    auto busy = connect();
    for (int i = 0; i < 8; ++i) {
        std::this_thread::sleep_for(milliseconds(300));
        std::string p;
        encode_ping(p, i, ping{});
        ASSERT_EQ(call(*busy, p).header.type, message_type::pong);
    }
    EXPECT_TRUE(silent->wait_closed(milliseconds(3000)));
    EXPECT_TRUE(slow->wait_closed(milliseconds(3000)));
    EXPECT_TRUE(idle->wait_closed(milliseconds(3000)));
    EXPECT_GE(metric("eventstream_native_errors_total{kind=\"handshake_timeout\"}"), 1);
    EXPECT_GE(metric("eventstream_native_errors_total{kind=\"frame_timeout\"}"), 1);
    EXPECT_GE(metric("eventstream_native_errors_total{kind=\"idle_timeout\"}"), 1);
    expect_serving();
}

TEST_F(native_protocol_test, udp_datagrams_are_published_or_counted) {
    auto c = connect();
    create_topic(*c, "udp");
    auto datagram = [](const std::string& topic, acks_level acks, int i) {
        publish_request p;
        p.topic = topic;
        p.acks = acks;
        p.partition = 0;
        const std::string payload = "event-" + std::to_string(i);
        p.events = {wire_event{false, 0, {}, payload, 0, 0}};
        std::string out;
        encode(out, 0, p);
        return out;
    };
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(send_datagram(ports_.native, datagram("udp", acks_level::none, i)));
        std::this_thread::sleep_for(milliseconds(20));  // keep their order on the way
    }
    ASSERT_TRUE(send_datagram(ports_.native, datagram("udp", acks_level::leader, 9)));
    ASSERT_TRUE(send_datagram(ports_.native, "not a frame"));
    std::string two = datagram("udp", acks_level::none, 9);
    two += two;
    ASSERT_TRUE(send_datagram(ports_.native, two));
    ASSERT_TRUE(send_datagram(ports_.native, datagram("no-such-topic", acks_level::none, 9)));
    // Larger than a frame may be over UDP's limit of this node: the header claims more.
    std::string big = datagram("udp", acks_level::none, 9);
    const uint32_t claimed = 70000;
    std::memcpy(big.data(), &claimed, 4);
    ASSERT_TRUE(send_datagram(ports_.native, big));

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (metric("eventstream_udp_datagrams_total{result=\"malformed\"}") < 4 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(50));
    }
    EXPECT_EQ(metric("eventstream_udp_datagrams_total{result=\"accepted\"}"), 5);
    EXPECT_EQ(metric("eventstream_udp_datagrams_total{result=\"dropped\"}"), 1);
    EXPECT_EQ(metric("eventstream_udp_datagrams_total{result=\"malformed\"}"), 4);
    expect_payloads(read_back("udp", 5), 5);
    expect_serving();
}

TEST_F(native_protocol_test, deleting_a_topic_ends_its_subscriptions) {
    auto c = connect();
    create_topic(*c, "gone");
    subscribe_request s;
    s.topic = "gone";
    s.credit_events = 10;
    s.credit_bytes = 1 << 20;
    auto sd = subscribe(*c, s, 33);
    auto other = connect();
    std::string out;
    encode_delete_topic(out, 34, topic_name_request{"gone"});
    EXPECT_EQ(call(*other, out).header.type, message_type::ok);
    auto f = c->read_frame(milliseconds(3000));
    ASSERT_TRUE(f) << f.err().message;
    EXPECT_EQ(f->header.type, message_type::subscription_ended);
    EXPECT_EQ(f->header.request_id, 33u);
    auto e = decode_subscription_ended(f->body);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->subscription_id, sd.subscription_id);
    EXPECT_EQ(e->code, static_cast<uint16_t>(errc::not_found));
}

}  // namespace
}  // namespace es::test

namespace es::test {
namespace {

TEST_F(native_protocol_test, stopping_the_node_tells_connections_and_drains) {
    auto c = connect();
    ASSERT_TRUE(c);
    create_topic(*c, "stop");
    publish(*c, "stop", 0, 3);
    subscribe_request s;
    s.topic = "stop";
    s.start = start_kind::earliest;
    s.credit_events = 100;
    s.credit_bytes = 1 << 20;
    subscribe(*c, s);
    ASSERT_EQ(read_events(*c, 3).size(), 3u);
    auto exit = node_->stop(SIGTERM, std::chrono::seconds(20));
    ASSERT_TRUE(exit);
    EXPECT_TRUE(exit->exited_with(0)) << *exit << node_->log();
    bool told = false;
    for (;;) {
        auto f = c->read_frame(milliseconds(3000));
        if (!f) break;
        if (f->header.type == message_type::error) {
            EXPECT_EQ(f->header.request_id, 0u);
            EXPECT_EQ(error_of(*f).code, static_cast<uint16_t>(errc::shutting_down));
            told = true;
        }
    }
    EXPECT_TRUE(told);
}

}  // namespace
}  // namespace es::test
