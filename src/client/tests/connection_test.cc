// The connection against a fake server on a loopback socket: handshake, pipelined answers
// matched by request id, time-outs, and reconnection after a dropped connection.
#include "client/connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "fake_server.h"
#include "protocol/codec.h"

namespace es::client {
namespace {

using namespace std::chrono_literals;
using test::fake_server;

eventstream::connection_options options_for(const fake_server& s) {
    eventstream::connection_options o;
    o.server = s.address();
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 2000;
    o.reconnect_backoff_initial_ms = 10;
    o.reconnect_backoff_max_ms = 50;
    o.idle_ping_ms = 0;
    return o;
}

std::string ping_frame(uint64_t id, std::string data) {
    std::string f;
    protocol::encode_ping(f, id, protocol::ping{std::move(data)});
    return f;
}

bool eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 500; ++i) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

TEST(connection, answers_are_matched_by_request_id_out_of_order) {
    // The server holds three PINGs and answers them in reverse order.
    std::vector<std::pair<uint64_t, std::string>> held;
    fake_server server([&](fake_server& s, const protocol::frame& f) {
        auto p = protocol::decode_ping(f.body);
        held.emplace_back(f.header.request_id, p->data);
        if (held.size() == 3) {
            for (auto it = held.rbegin(); it != held.rend(); ++it) {
                std::string out;
                protocol::encode_pong(out, it->first, protocol::ping{it->second});
                s.reply(out);
            }
        }
    });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c) << c.err().to_string();
    std::vector<std::future<std::string>> answers;
    for (int i = 0; i < 3; ++i) {
        auto p = std::make_shared<std::promise<std::string>>();
        answers.push_back(p->get_future());
        const uint64_t id = (*c)->next_request_id();
        (*c)->request(id, ping_frame(id, "ping-" + std::to_string(i)), [p](result<owned_frame> r) {
            p->set_value(r ? protocol::decode_ping(r->body)->data : "error");
        });
    }
    for (int i = 0; i < 3; ++i) EXPECT_EQ(answers[i].get(), "ping-" + std::to_string(i));
}

TEST(connection, a_request_without_answer_times_out) {
    fake_server server([](fake_server&, const protocol::frame&) {});
    auto o = options_for(server);
    o.request_timeout_ms = 100;
    auto c = connection::open(o);
    ASSERT_TRUE(c);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "x"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, error_code::timed_out);
}

TEST(connection, an_error_frame_becomes_the_servers_error) {
    fake_server server([](fake_server& s, const protocol::frame& f) {
        std::string out;
        protocol::encode(out, f.header.request_id, protocol::error_reply{4, true, "full"});
        s.reply(out);
    });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "x"));
    ASSERT_TRUE(r);
    auto s = answer_error(*r, protocol::message_type::pong);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, error_code::queue_full);
    EXPECT_TRUE(s.err().retryable());
    EXPECT_EQ(s.err().message, "full");
}

TEST(connection, reconnects_after_the_server_drops_it) {
    fake_server server([](fake_server& s, const protocol::frame& f) {
        std::string out;
        protocol::encode_pong(out, f.header.request_id, protocol::ping{"pong"});
        s.reply(out);
    });
    std::atomic<int> reconnects{0};
    auto c = connection::open(options_for(server), [&] { ++reconnects; });
    ASSERT_TRUE(c);
    server.drop_connection();
    ASSERT_TRUE(eventually([&] { return reconnects.load() == 1 && (*c)->connected(); }));
    EXPECT_EQ(server.connections(), 2);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "again"));
    ASSERT_TRUE(r) << r.err().to_string();
    EXPECT_EQ(r->header.type, protocol::message_type::pong);
}

TEST(connection, a_pending_request_fails_with_connection_lost_when_dropped) {
    fake_server server([](fake_server& s, const protocol::frame&) { s.drop_connection(); });
    auto c = connection::open(options_for(server));
    ASSERT_TRUE(c);
    const uint64_t id = (*c)->next_request_id();
    auto r = (*c)->call(id, ping_frame(id, "x"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, error_code::connection_lost);
    EXPECT_TRUE(r.err().retryable());
}

TEST(connection, open_fails_when_nothing_listens) {
    int port = 0;
    {
        fake_server gone([](fake_server&, const protocol::frame&) {});
        port = gone.port();
    }
    eventstream::connection_options o;
    o.server = "127.0.0.1:" + std::to_string(port);
    auto c = connection::open(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.err().code, error_code::connection_lost);
}

TEST(connection, server_address_must_be_host_and_port) {
    EXPECT_TRUE(parse_server_address("localhost:7070"));
    EXPECT_EQ(parse_server_address("[::1]:7070")->first, "::1");
    EXPECT_FALSE(parse_server_address("localhost"));
    EXPECT_FALSE(parse_server_address("localhost:0"));
    EXPECT_FALSE(parse_server_address("localhost:99999"));
    EXPECT_FALSE(parse_server_address(":7070"));
}

}  // namespace
}  // namespace es::client
