// The consumer against a fake server: records decoded from EVENTS in order, credit granted as
// the application consumes, gap notices, resubscription after a lost connection from the
// offset after the last event received, and group members' static assignment.
#include "eventstream/consumer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "fake_server.h"
#include "protocol/codec.h"

namespace es::client {
namespace {

using eventstream::consumer;
using eventstream::consumer_options;
using test::fake_server;

struct subscription_log {
    std::mutex mu;
    std::vector<protocol::subscribe_request> subscribes;  // views not kept: copies below
    std::vector<int64_t> start_values;
    std::vector<protocol::start_kind> starts;
    std::vector<std::vector<uint32_t>> partitions;
    std::vector<std::string> groups;
    uint64_t last_request_id = 0;
};

// DESCRIBE: `partitions` partitions. SUBSCRIBE: SUBSCRIBED with subscription id 7 + partition.
fake_server::handler subscribe_server(uint32_t partitions, subscription_log& log) {
    return [partitions, &log](fake_server& s, const protocol::frame& f) {
        std::string out;
        if (f.header.type == protocol::message_type::describe_topic) {
            protocol::topic_detail d;
            d.settings.name = std::string(protocol::decode_topic_name(f.body)->name);
            d.settings.partitions = partitions;
            protocol::encode(out, f.header.request_id, d);
            s.reply(out);
        } else if (f.header.type == protocol::message_type::subscribe) {
            auto r = protocol::decode_subscribe(f.body);
            {
                std::lock_guard lk(log.mu);
                log.starts.push_back(r->start);
                log.start_values.push_back(r->start_value);
                log.partitions.push_back(r->partitions);
                log.groups.push_back(r->group);
                log.last_request_id = f.header.request_id;
            }
            protocol::encode(out, f.header.request_id,
                             protocol::subscribed{7 + r->partitions.at(0), r->partitions});
            s.reply(out);
        }
    };
}

void push_events(fake_server& s, uint64_t request_id, uint64_t sub, uint32_t partition,
                 uint64_t first_offset, int count) {
    std::string records;
    for (int i = 0; i < count; ++i)
        records += test::make_record(first_offset + i,
                                     std::string("v").append(std::to_string(first_offset + i)));
    std::string out;
    protocol::encode_events_head(out, request_id, sub, partition, uint32_t(count),
                                 uint32_t(records.size()));
    out += records;
    s.reply(out);
}

consumer_options options_for(const fake_server& s) {
    consumer_options o;
    o.connection.server = s.address();
    o.connection.reconnect_backoff_initial_ms = 10;
    o.connection.idle_ping_ms = 0;
    o.start = eventstream::start_position::earliest();
    return o;
}

// A consumer `c` subscribed from the earliest offset to topic "t" (1 partition) of `server`.
class subscribed_consumer : public ::testing::Test {
  protected:
    void SetUp() override {
        auto made = consumer::create(options_for(server));
        ASSERT_TRUE(made) << made.err().to_string();
        c = std::move(*made);
        ASSERT_TRUE(c->subscribe("t"));
    }

    subscription_log log;
    fake_server server{subscribe_server(1, log)};
    std::unique_ptr<consumer> c;
};

TEST(consumer, hands_out_events_in_order_and_grants_credit_as_they_are_taken) {
    subscription_log log;
    fake_server server(subscribe_server(1, log));
    auto o = options_for(server);
    o.credit_events = 4;
    auto c = consumer::create(o);
    ASSERT_TRUE(c) << c.err().to_string();
    ASSERT_TRUE((*c)->subscribe("t"));
    push_events(server, log.last_request_id, 7, 0, 10, 3);
    for (uint64_t off = 10; off < 13; ++off) {
        auto r = (*c)->poll(2000);
        ASSERT_TRUE(r);
        ASSERT_TRUE(*r);
        EXPECT_EQ((*r)->offset, off);
        EXPECT_EQ((*r)->value, "v" + std::to_string(off));
        EXPECT_EQ((*r)->topic, "t");
    }
    EXPECT_EQ((*c)->positions().at(0), 13u);
    // Half the window (2 events) taken: one CREDIT for 2 events of subscription 7.
    ASSERT_TRUE(server.wait_for([](const auto& frames) {
        for (const auto& [type, body] : frames)
            if (type == protocol::message_type::credit) return true;
        return false;
    }));
    for (const auto& [type, body] : server.received()) {
        if (type != protocol::message_type::credit) continue;
        auto g = protocol::decode_credit(body);
        EXPECT_EQ(g->subscription_id, 7u);
        EXPECT_EQ(g->events, 2u);
        EXPECT_GT(g->bytes, 0u);
    }
}

TEST_F(subscribed_consumer, surfaces_gaps) {
    std::string out;
    protocol::encode(out, log.last_request_id, protocol::gap_push{7, 0, 0, 99});
    server.reply(out);
    auto r = c->poll(2000);
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->kind, eventstream::record_kind::gap);
    EXPECT_EQ((*r)->gap_first, 0u);
    EXPECT_EQ((*r)->gap_last, 99u);
    EXPECT_EQ(c->positions().at(0), 100u);
}

TEST_F(subscribed_consumer, events_of_several_frames_come_out_in_order_with_gaps_between) {
    push_events(server, log.last_request_id, 7, 0, 0, 3);
    std::string gap;
    protocol::encode(gap, log.last_request_id, protocol::gap_push{7, 0, 3, 9});
    server.reply(gap);
    push_events(server, log.last_request_id, 7, 0, 10, 1);
    push_events(server, log.last_request_id, 7, 0, 11, 4);
    std::vector<std::string> got;
    for (int i = 0; i < 9; ++i) {
        auto r = c->poll(2000);
        ASSERT_TRUE(r && *r) << "record " << i;
        if ((*r)->kind == eventstream::record_kind::gap) {
            std::string g = "gap ";
            g += std::to_string((*r)->gap_first);
            g += '-';
            g += std::to_string((*r)->gap_last);
            got.push_back(g);
        } else {
            EXPECT_EQ((*r)->value, "v" + std::to_string((*r)->offset));
            got.push_back(std::to_string((*r)->offset));
        }
    }
    EXPECT_EQ(got,
              (std::vector<std::string>{"0", "1", "2", "gap 3-9", "10", "11", "12", "13", "14"}));
    EXPECT_EQ(c->positions().at(0), 15u);
    auto none = c->poll(50);
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
}

TEST_F(subscribed_consumer,
       a_malformed_events_frame_ends_the_subscription_before_any_of_it_is_handed_out) {
    push_events(server, log.last_request_id, 7, 0, 0, 2);
    // Three records of which the last claims more bytes than the frame holds.
    std::string records = test::make_record(2, "v2") + test::make_record(3, "v3");
    std::string last = test::make_record(4, "v4");
    const uint32_t lie = uint32_t(last.size()) + 64;
    std::memcpy(last.data(), &lie, 4);
    records += last;
    std::string out;
    protocol::encode_events_head(out, log.last_request_id, 7, 0, 3, uint32_t(records.size()));
    out += records;
    server.reply(out);
    for (uint64_t off = 0; off < 2; ++off) {
        auto r = c->poll(2000);
        ASSERT_TRUE(r && *r);
        EXPECT_EQ((*r)->offset, off);
    }
    auto r = c->poll(2000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, eventstream::error_code::protocol_error);
    // Named by the frame's check (the protocol's decoder, which reads the record sizes).
    EXPECT_NE(r.err().message.find("records[2]"), std::string::npos) << r.err().message;
    EXPECT_EQ(c->positions().at(0), 2u);
}

TEST_F(subscribed_consumer, resubscribes_after_a_lost_connection_from_the_next_offset) {
    push_events(server, log.last_request_id, 7, 0, 0, 5);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(c->poll(2000));
    server.drop_connection();
    // The log is written by the server's handler, after the frame is recorded as received.
    for (int i = 0; i < 500; ++i) {
        {
            std::lock_guard lk(log.mu);
            if (log.starts.size() >= 2) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lk(log.mu);
    ASSERT_EQ(log.starts.size(), 2u);
    EXPECT_EQ(log.starts[0], protocol::start_kind::earliest);
    EXPECT_EQ(log.starts[1], protocol::start_kind::offset);
    EXPECT_EQ(log.start_values[1], 5);
}

// close() from the handler while another thread's close() joins the handler's thread returns
// at once; a close() during another returns after it, with the consumer closed.
TEST_F(subscribed_consumer, closes_from_the_handler_and_from_two_threads_end_closed) {
    std::atomic<bool> in_handler{false};
    std::atomic<bool> user_closing{false};
    std::atomic<bool> handler_closed{false};
    ASSERT_TRUE(c->start([&](const eventstream::consumer_record&) {
        in_handler = true;
        while (!user_closing) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the user's close runs
        handler_closed = static_cast<bool>(c->close());
    }));
    push_events(server, log.last_request_id, 7, 0, 0, 1);
    for (int i = 0; i < 500 && !in_handler; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(in_handler.load());
    user_closing = true;
    // The fake server never answers UNSUBSCRIBE: the first close() waits for it up to 2 s.
    std::thread other([&] { EXPECT_TRUE(c->close()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(c->close());
    EXPECT_TRUE(handler_closed.load());
    auto r = c->poll(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, eventstream::error_code::closed);
    other.join();
    c.reset();
}

TEST(consumer, a_group_member_subscribes_to_its_static_share) {
    subscription_log log;
    fake_server server(subscribe_server(8, log));
    auto o = options_for(server);
    o.group = "g";
    o.member_index = 1;
    o.member_count = 3;
    auto c = consumer::create(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->subscribe("t"));
    EXPECT_EQ((*c)->assignment(), (std::vector<uint32_t>{1, 4, 7}));
    std::lock_guard lk(log.mu);
    ASSERT_EQ(log.partitions.size(), 3u);
    for (const auto& g : log.groups) EXPECT_EQ(g, "g");
}

TEST(consumer, member_index_must_be_below_member_count) {
    consumer_options o;
    o.group = "g";
    o.member_index = 3;
    o.member_count = 3;
    auto c = consumer::create(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.err().code, eventstream::error_code::invalid_argument);
}

}  // namespace
}  // namespace es::client
