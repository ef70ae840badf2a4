// WebSocket /v1/stream against the real binary with a Beast client: subscribe by query and by
// message, credit, publish over the socket, and the close codes of protocol violations; the
// node stays up after each.
#include "tests/integration/rest_test_util.h"
#include "tests/integration/test_websocket_client.h"

namespace es::test {
namespace {

using json = nlohmann::json;

class server_websocket_test : public rest_fixture {
  protected:
    std::unique_ptr<websocket_test_client> open(const std::string& target) {
        auto c = websocket_test_client::connect(ports_.http, target);
        EXPECT_TRUE(c) << target << ": " << c.err().message;
        return c ? std::move(*c) : nullptr;
    }
    std::unique_ptr<websocket_test_client> open_short(const std::string& target) {
        auto c =
            websocket_test_client::connect(ports_.http, target, std::chrono::milliseconds(300));
        EXPECT_TRUE(c) << target << ": " << c.err().message;
        return c ? std::move(*c) : nullptr;
    }
    void publish(const std::string& topic, int n) {
        for (int i = 0; i < n; ++i) {
            ASSERT_EQ(
                call("POST", "/v1/events", json{{"topic", topic}, {"payload", i}}.dump()).status,
                201);
        }
    }
};

TEST_F(server_websocket_test, subscribe_by_query_and_credit_bounds_the_push) {
    create_topic("w");
    publish("w", 5);
    auto ws = open_short("/v1/stream?topic=w&start=earliest&credit=2");
    ASSERT_TRUE(ws);
    auto m = ws->read_json();
    ASSERT_TRUE(m) << m.err().message;
    EXPECT_EQ((*m)["type"], "subscribed");
    const int sub = (*m)["subscription"];
    for (int i = 0; i < 2; ++i) {
        m = ws->read_json();
        ASSERT_TRUE(m) << m.err().message;
        EXPECT_EQ((*m)["type"], "event");
        EXPECT_EQ((*m)["subscription"], sub);
        EXPECT_EQ((*m)["payload"], i);
        EXPECT_EQ((*m)["id"], "w.0." + std::to_string(i));
    }
    // Credit used up: nothing more arrives.
    m = ws->read_json();
    ASSERT_FALSE(m);
    EXPECT_EQ(m.err().code, errc::timed_out);
    ASSERT_TRUE(ws->send_json({{"credit", 10}}));
    for (int i = 2; i < 5; ++i) {
        m = ws->read_json();
        ASSERT_TRUE(m) << m.err().message;
        EXPECT_EQ((*m)["payload"], i);
    }
    // Live events arrive as they are published.
    publish("w", 1);
    m = ws->read_json();
    ASSERT_TRUE(m) << m.err().message;
    EXPECT_EQ((*m)["offset"], 5);
    expect_up();
}

TEST_F(server_websocket_test, the_querys_credit_counts_without_a_subscription_in_the_query) {
    create_topic("q");
    publish("q", 5);
    auto ws = open_short("/v1/stream?credit=3");
    ASSERT_TRUE(ws);
    ASSERT_TRUE(ws->send_json({{"type", "subscribe"}, {"topic", "q"}, {"start", "earliest"}}));
    auto m = ws->read_json();
    ASSERT_TRUE(m) << m.err().message;
    EXPECT_EQ((*m)["type"], "subscribed");
    for (int i = 0; i < 3; ++i) {
        m = ws->read_json();
        ASSERT_TRUE(m) << m.err().message;
        EXPECT_EQ((*m)["payload"], i);
    }
    m = ws->read_json();
    ASSERT_FALSE(m);  // the credit of the query, 3, is used up
    EXPECT_EQ(m.err().code, errc::timed_out);
    // And a bad credit in the query is refused even without a topic.
    auto bad = open_short("/v1/stream?credit=x");
    ASSERT_TRUE(bad);
    auto code = bad->read_close(1);
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1008);
    expect_up();
}

TEST_F(server_websocket_test, subscribe_by_message_publish_and_unsubscribe) {
    create_topic("a", 2);
    auto ws = open("/v1/stream");
    ASSERT_TRUE(ws);
    ASSERT_TRUE(
        ws->send_json({{"type", "subscribe"}, {"topic", "a"}, {"ref", "s1"}, {"credit", 100}}));
    auto m = ws->read_json();
    ASSERT_TRUE(m) << m.err().message;
    EXPECT_EQ((*m)["type"], "subscribed");
    EXPECT_EQ((*m)["ref"], "s1");
    EXPECT_EQ((*m)["partitions"], json({0, 1}));
    const int sub = (*m)["subscription"];

    ASSERT_TRUE(ws->send_json({{"type", "publish"},
                               {"ref", 7},
                               {"topic", "a"},
                               {"events", {{{"key", "k"}, {"payload", {{"x", 1}}}}}}}));
    // The publish reply and the event itself, in either order.
    bool got_reply = false;
    bool got_event = false;
    for (int i = 0; i < 2; ++i) {
        m = ws->read_json();
        ASSERT_TRUE(m) << m.err().message;
        if ((*m)["type"] == "published") {
            got_reply = true;
            EXPECT_EQ((*m)["ref"], 7);
            ASSERT_EQ((*m)["events"].size(), 1u);
            EXPECT_TRUE((*m)["events"][0]["id"].is_string());
        } else {
            got_event = true;
            EXPECT_EQ((*m)["type"], "event");
            EXPECT_EQ((*m)["payload"], json({{"x", 1}}));
            EXPECT_EQ((*m)["key"], "k");
        }
    }
    EXPECT_TRUE(got_reply && got_event);

    // acks=0 publish answers without offsets.
    ASSERT_TRUE(ws->send_json({{"type", "unsubscribe"}, {"subscription", sub}}));
    m = ws->read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "unsubscribed");
    ASSERT_TRUE(
        ws->send_json({{"type", "publish"}, {"acks", "0"}, {"topic", "a"}, {"payload", 1}}));
    m = ws->read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "published");
    EXPECT_EQ((*m)["accepted"], 1);

    // Wrong messages get error replies and the connection stays.
    for (const json& bad : {json{{"type", "dance"}}, json{{"type", "subscribe"}, {"topic", "nope"}},
                            json{{"type", "publish"}, {"topic", "a"}},
                            json{{"type", "unsubscribe"}, {"subscription", 99}},
                            json{{"credit", -1}}, json::array({1}), json{{"nothing", 1}}}) {
        ASSERT_TRUE(ws->send_json(bad));
        m = ws->read_json();
        ASSERT_TRUE(m) << bad << ": " << m.err().message;
        EXPECT_EQ((*m)["type"], "error") << bad << " -> " << *m;
        EXPECT_TRUE((*m)["message"].is_string());
    }
    expect_up();
}

TEST_F(server_websocket_test, a_groups_commit_and_unsubscribe_store_its_offsets) {
    create_topic("g", 1);
    publish("g", 3);
    auto ws = open("/v1/stream");
    ASSERT_TRUE(ws);
    const json subscribe = {{"type", "subscribe"},  {"topic", "g"},           {"group", "audit"},
                            {"start", "committed"}, {"fallback", "earliest"}, {"credit", 100}};
    ASSERT_TRUE(ws->send_json(subscribe));
    auto m = ws->read_json();
    ASSERT_TRUE(m) << m.err().message;
    ASSERT_EQ((*m)["type"], "subscribed") << *m;
    const int sub = (*m)["subscription"];
    // Reads `n` events and returns the offset after the last.
    auto take = [&](int n) {
        int64_t next = -1;
        for (int i = 0; i < n; ++i) {
            auto e = ws->read_json();
            EXPECT_TRUE(e) << e.err().message;
            if (!e) return next;
            EXPECT_EQ((*e)["type"], "event") << *e;
            next = (*e)["offset"].get<int64_t>() + 1;
        }
        return next;
    };
    ASSERT_EQ(take(3), 3);
    ASSERT_TRUE(ws->send_json({{"type", "commit"}, {"subscription", sub}, {"ref", "c"}}));
    m = ws->read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "committed") << *m;
    EXPECT_EQ((*m)["ref"], "c");
    EXPECT_EQ((*m)["offsets"], json({{"0", 3}}));

    publish("g", 2);
    ASSERT_EQ(take(2), 5);
    // The answer comes once the offsets are stored, and says which.
    ASSERT_TRUE(ws->send_json({{"type", "unsubscribe"}, {"subscription", sub}, {"ref", "u"}}));
    m = ws->read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "unsubscribed") << *m;
    EXPECT_EQ((*m)["ref"], "u");
    EXPECT_EQ((*m)["offsets"], json({{"0", 5}}));
    EXPECT_FALSE(m->contains("commit_error"));

    // The group goes on after what was delivered: a new subscription gets only new events.
    ASSERT_TRUE(ws->send_json(subscribe));
    m = ws->read_json();
    ASSERT_TRUE(m);
    ASSERT_EQ((*m)["type"], "subscribed") << *m;
    publish("g", 1);
    m = ws->read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "event");
    EXPECT_EQ((*m)["offset"], 5);
    // Without a group there is nothing to commit.
    ASSERT_TRUE(ws->send_json({{"type", "subscribe"}, {"topic", "g"}, {"credit", 1}}));
    m = ws->read_json();
    ASSERT_TRUE(m);
    const int plain = (*m)["subscription"];
    ASSERT_TRUE(ws->send_json({{"type", "commit"}, {"subscription", plain}}));
    m = ws->read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "error");
    ASSERT_TRUE(ws->send_json({{"type", "unsubscribe"}, {"subscription", plain}}));
    m = ws->read_json();
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "unsubscribed");
    EXPECT_FALSE(m->contains("offsets"));
    expect_up();
}

TEST_F(server_websocket_test, protocol_violations_close_with_the_right_code) {
    create_topic("v");
    // Binary frame: 1003.
    auto ws = open("/v1/stream");
    ASSERT_TRUE(ws->send_binary("\x01\x02"));
    auto code = ws->read_close();
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1003);
    // Text that is not JSON: 1007.
    ws = open("/v1/stream");
    ASSERT_TRUE(ws->send_text("{not json"));
    code = ws->read_close();
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1007);
    // An unmasked client frame (RFC 6455 5.1): 1002.
    ws = open("/v1/stream");
    ASSERT_TRUE(ws->send_raw(std::string("\x81\x02{}", 4)));
    code = ws->read_close();
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1002);
    // A reserved opcode: 1002.
    ws = open("/v1/stream");
    ASSERT_TRUE(ws->send_raw(std::string("\x83\x80\x00\x00\x00\x00", 6)));
    code = ws->read_close();
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1002);
    // A message above the limit (1 MiB): 1009.
    ws = open("/v1/stream");
    (void)ws->send_text(std::string((1 << 20) + 10, ' '));
    code = ws->read_close();
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1009);
    // Credit beyond the limit: 1008.
    ws = open("/v1/stream");
    ASSERT_TRUE(ws->send_json({{"credit", uint64_t{1} << 40}}));
    code = ws->read_close();
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1008);
    // A bad subscription in the query: an error message, then 1008.
    ws = open("/v1/stream?topic=v&start=soon");
    code = ws->read_close(1);
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1008);
    // Invalid UTF-8 in a text frame: 1007.
    ws = open("/v1/stream");
    (void)ws->send_text("\"\xff\xfe\"");
    code = ws->read_close();
    ASSERT_TRUE(code) << code.err().message;
    EXPECT_EQ(*code, 1007);
    // A client that sends half a frame and vanishes.
    ws = open("/v1/stream");
    ASSERT_TRUE(ws->send_raw(std::string("\x81\xfe\x10\x00", 4)));
    ws.reset();
    expect_up();
}

TEST_F(server_websocket_test, handshake_errors_are_http_errors) {
    // Not an upgrade: 426 from the router.
    EXPECT_EQ(call("GET", "/v1/stream").status, 426);
    // An upgrade on another path is routed as plain HTTP.
    auto c = http_test_client::connect(ports_.http);
    ASSERT_TRUE(c);
    auto r =
        c->request("GET", "/v1/topics", {},
                   {"Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    // A bad upgrade on /v1/stream (no key): refused with 400 by the handshake.
    auto d = http_test_client::connect(ports_.http);
    ASSERT_TRUE(d);
    r = d->request("GET", "/v1/stream", {},
                   {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    expect_up();
}

TEST_F(server_websocket_test, a_message_trickled_a_byte_at_a_time_is_closed_at_its_deadline) {
    server_launch launch;
    launch.flags["websocket_message_timeout_ms"] = "1000";
    server::ports_record ports;
    server_process* node = start_ready(launch, &ports);
    ASSERT_NE(node, nullptr);
    auto c = websocket_test_client::connect(ports.http, "/v1/stream");
    ASSERT_TRUE(c) << c.err().message;
    auto& ws = *c;
    // A masked text frame of 100 bytes, sent a byte every 200 ms: Beast's idle timer would
    // restart with each byte; the message's own deadline (1 s here) does not.
    std::string frame("\x81\xe4\x00\x00\x00\x00", 6);  // mask 0: the payload goes as it is
    frame += std::string(10, ' ');
    ASSERT_TRUE(ws->send_raw(frame));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        ASSERT_TRUE(ws->send_raw(" "));
    }
    // Closed with 1008 at the deadline; the node does not wait for an answer it cannot parse
    // behind the half-sent message, so the client may also find the connection gone first.
    auto code = ws->read_close();
    if (code) {
        EXPECT_EQ(*code, 1008);
    } else {
        EXPECT_EQ(code.err().code, errc::io_error) << code.err().message;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
    auto m = http_call(ports.http, "GET", "/metrics", "");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("eventstream_websocket_message_timeouts_total 1"), std::string::npos);
    // A whole message sent slowly in parts but within the deadline is fine.
    auto ok = websocket_test_client::connect(ports.http, "/v1/stream");
    ASSERT_TRUE(ok) << ok.err().message;
    const std::string body = R"({"credit": 1})";
    std::string slow("\x81", 1);
    slow += static_cast<char>(0x80 | body.size());
    slow += std::string(4, '\0');
    ASSERT_TRUE((*ok)->send_raw(slow));
    for (char ch : body) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ASSERT_TRUE((*ok)->send_raw(std::string(1, ch)));
    }
    // Still open: an unknown type is answered with an error message.
    ASSERT_TRUE((*ok)->send_json({{"type", "dance"}, {"ref", 1}}));
    auto reply = (*ok)->read_json();
    ASSERT_TRUE(reply) << reply.err().message;
    EXPECT_EQ((*reply)["type"], "error");
    EXPECT_EQ((*reply)["ref"], 1);
}

TEST_F(server_websocket_test, many_connections_and_a_stop_with_them_open) {
    create_topic("m");
    std::vector<std::unique_ptr<websocket_test_client>> clients;
    for (int i = 0; i < 20; ++i) {
        clients.push_back(open("/v1/stream?topic=m&credit=1000"));
        ASSERT_TRUE(clients.back());
        auto m = clients.back()->read_json();
        ASSERT_TRUE(m);
    }
    publish("m", 3);
    for (auto& c : clients) {
        for (int i = 0; i < 3; ++i) {
            auto m = c->read_json();
            ASSERT_TRUE(m) << m.err().message;
            EXPECT_EQ((*m)["type"], "event");
        }
    }
    auto r = call("GET", "/metrics");
    EXPECT_NE(r.body.find("eventstream_websocket_connections 20"), std::string::npos) << r.body;
    // The node stops cleanly with the sessions open; each sees 1001 and answers it while the
    // node waits for the answers (a close read after the node is gone finds no one to answer).
    ASSERT_TRUE(node_->send_signal(SIGTERM));
    size_t going_away = 0;
    for (auto& c : clients) {
        auto code = c->read_close();
        if (code && *code == 1001) ++going_away;
        if (!code) ADD_FAILURE() << code.err().message;
    }
    EXPECT_EQ(going_away, clients.size());
    auto exit = node_->wait_exit();
    ASSERT_TRUE(exit);
    EXPECT_TRUE(exit->exited_with(0)) << node_->log();
}

}  // namespace
}  // namespace es::test
