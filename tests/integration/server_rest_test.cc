// The REST API against the real binary: topics, publishing (acks, batches, bad input, limits),
// events by id, long-poll subscriptions, cluster and metrics; the node stays up after each.
#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "common/hash.h"
#include "tests/integration/rest_test_util.h"

namespace es::test {
namespace {

using json = nlohmann::json;

class server_rest_test : public rest_fixture {};

TEST_F(server_rest_test, topics_create_list_describe_delete) {
    auto r = call("POST", "/v1/topics", R"({"name":"orders","partitions":3})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.header("location"), "/v1/topics/orders");
    auto doc = json_of(r);
    EXPECT_EQ(doc["name"], "orders");
    EXPECT_EQ(doc["partitions"], 3);
    EXPECT_EQ(doc["storage"], "memory");
    EXPECT_EQ(doc["partition_detail"].size(), 3u);

    r = call("POST", "/v1/topics", R"({"name":"orders"})");
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(error_code(r), "already_exists");

    r = call("GET", "/v1/topics");
    ASSERT_EQ(r.status, 200);
    doc = json_of(r);
    ASSERT_EQ(doc["topics"].size(), 1u);
    EXPECT_EQ(doc["topics"][0]["name"], "orders");

    r = call("GET", "/v1/topics/orders");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(json_of(r)["partition_detail"][2]["end_offset"], 0);

    r = call("DELETE", "/v1/topics/orders");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(call("GET", "/v1/topics/orders").status, 404);
    r = call("DELETE", "/v1/topics/orders");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(error_code(r), "not_found");
    expect_up();
}

TEST_F(server_rest_test, topic_config_errors_name_the_field) {
    struct bad_case {
        const char* body;
        int status;
        const char* needle;
    };
    const bad_case cases[] = {
        {R"({"partitions":1})", 400, "name"},
        {R"({"name":"a","partitions":0})", 400, "partitions"},
        {R"({"name":"a","partitions":"3"})", 400, "partitions"},
        {R"({"name":"a","partitions":-1})", 400, "partitions"},
        {R"({"name":"a","storage":"disk"})", 400, "storage"},
        {R"({"name":"a","colour":"red"})", 400, "colour"},
        {R"({"name":"bad/name"})", 400, "name"},
        {R"(["a"])", 400, "body"},
        {R"({"name":)", 400, "JSON"},
    };
    for (const auto& c : cases) {
        const auto r = call("POST", "/v1/topics", c.body);
        EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
        EXPECT_NE(r.body.find(c.needle), std::string::npos) << c.body << " -> " << r.body;
    }
    // Durable topics: created once the storage is built, else 501 not_supported.
    const auto r = call("POST", "/v1/topics", R"({"name":"d","storage":"durable"})");
    EXPECT_TRUE(r.status == 201 || r.status == 501) << r.body;
    expect_up();
}

TEST_F(server_rest_test, publish_one_event_answers_id_partition_offset) {
    create_topic("t");
    auto r = call("POST", "/v1/events", R"({"topic":"t","payload":{"n":1}})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto doc = json_of(r);
    EXPECT_EQ(doc["id"], "t.0.0");
    EXPECT_EQ(doc["partition"], 0);
    EXPECT_EQ(doc["offset"], 0);
    EXPECT_EQ(doc["acks"], "leader");

    r = call("POST", "/v1/events?acks=all", R"({"topic":"t","key":"k","payload":"x"})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(json_of(r)["id"], "t.0.1");

    r = call("POST", "/v1/events?acks=0", R"({"topic":"t","payload":[1,2]})");
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(json_of(r)["accepted"], 1);

    // acks by header.
    auto client = http_test_client::connect(ports_.http);
    ASSERT_TRUE(client);
    auto h = client->request("POST", "/v1/events", R"({"topic":"t","payload":1})",
                             {"Eventstream-Acks: 0"});
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 202) << h->body;

    r = call("POST", "/v1/events?acks=2", R"({"topic":"t","payload":1})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("acks"), std::string::npos);
}

TEST_F(server_rest_test, publish_batch_gives_every_event_its_id) {
    create_topic("b", 4);
    json events = json::array();
    for (int i = 0; i < 20; ++i) {
        json e = {{"payload", i}};
        if (i % 3 == 0) e["key"] = "key-" + std::to_string(i);
        events.push_back(e);
    }
    events.push_back({{"payload", "aGVsbG8="}, {"encoding", "base64"}, {"headers", {{"h", "v"}}}});
    auto r = call("POST", "/v1/events", json{{"topic", "b"}, {"events", events}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    auto doc = json_of(r);
    ASSERT_EQ(doc["events"].size(), events.size());
    EXPECT_EQ(doc["count"], events.size());
    // Each id is distinct, and the same key lands on the same partition.
    std::set<std::string> ids;
    for (const auto& e : doc["events"]) {
        ASSERT_TRUE(e.is_object()) << doc;
        ids.insert(e["id"].get<std::string>());
    }
    EXPECT_EQ(ids.size(), events.size());
    // A subscriber from the start sees every payload at the offset the answer gave.
    auto s = call("POST", "/v1/topics/subscribe", R"({"topic":"b","start":"earliest"})");
    ASSERT_EQ(s.status, 201) << s.body;
    const std::string sid = json_of(s)["subscription_id"];
    auto p = call("GET", "/v1/subscriptions/" + sid + "/events?max=100&wait_ms=1000");
    ASSERT_EQ(p.status, 200) << p.body;
    std::map<std::string, json> seen;
    const auto polled = json_of(p);
    for (const auto& e : polled["events"]) seen[e["id"].get<std::string>()] = e;
    ASSERT_EQ(seen.size(), events.size()) << p.body;
    for (size_t i = 0; i < events.size(); ++i) {
        const auto& got = seen[doc["events"][i]["id"].get<std::string>()];
        if (events[i].contains("encoding")) {
            EXPECT_EQ(got["payload"], "aGVsbG8=");
            EXPECT_EQ(got["encoding"], "base64");
            EXPECT_EQ(got["headers"]["h"], "v");
        } else {
            EXPECT_EQ(got["payload"], events[i]["payload"]);
        }
    }

    // A list of events naming the topic each.
    r = call("POST", "/v1/events",
             R"([{"topic":"b","payload":1},{"topic":"b","payload":2,"key":"x"}])");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(json_of(r)["events"].size(), 2u);
}

TEST_F(server_rest_test, bad_publish_bodies_get_precise_4xx_and_the_node_stays_up) {
    create_topic("t");
    struct bad_case {
        std::string body;
        int status;
        const char* needle;
    };
    const std::vector<bad_case> cases = {
        {"", 400, "JSON"},
        {"{", 400, "JSON"},
        {"nul", 400, "JSON"},
        {"\xff\xfe", 400, "JSON"},
        {R"({"topic":"t"})", 400, "payload"},
        {R"({"payload":1})", 400, "topic"},
        {R"({"topic":5,"payload":1})", 400, "topic"},
        {R"({"topic":"t","payload":1,"key":5})", 400, "key"},
        {R"({"topic":"t","payload":1,"headers":[1]})", 400, "headers"},
        {R"({"topic":"t","payload":1,"headers":{"a":1}})", 400, "headers.a"},
        {R"({"topic":"t","payload":1,"encoding":"hex"})", 400, "encoding"},
        {R"({"topic":"t","payload":1,"encoding":"base64"})", 400, "payload"},
        {R"({"topic":"t","payload":"!!!","encoding":"base64"})", 400, "base64"},
        {R"({"topic":"t","payload":1,"extra":1})", 400, "extra"},
        {R"({"topic":"t","events":[]})", 400, "events"},
        {R"({"topic":"t","events":{}})", 400, "events"},
        {R"({"topic":"t","events":[{"payload":1},{"key":"k"}]})", 400, "events[1].payload"},
        {R"([{"topic":"t","payload":1},{"topic":"u","payload":1}])", 400, "same topic"},
        {R"([])", 400, "empty"},
        {"42", 400, "body"},
        {R"({"topic":"t","payload":1e999})", 400, "JSON"},
        {std::string(100, '[') + std::string(100, ']'), 400, "deeper"},
        {R"({"topic":"nope","payload":1})", 404, "nope"},
    };
    for (const auto& c : cases) {
        const auto r = call("POST", "/v1/events", c.body);
        EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
        EXPECT_NE(r.body.find(c.needle), std::string::npos) << c.body << " -> " << r.body;
        error_code(r);
    }
    // Too many events in one request.
    json events = json::array();
    for (int i = 0; i < 1001; ++i) events.push_back({{"payload", i}});
    auto r = call("POST", "/v1/events", json{{"topic", "t"}, {"events", events}}.dump());
    EXPECT_EQ(r.status, 413) << r.body;
    // An event above the topic's max_event_bytes.
    ASSERT_EQ(call("POST", "/v1/topics", R"({"name":"small","max_event_bytes":100})").status, 201);
    r = call("POST", "/v1/events",
             json{{"topic", "small"}, {"payload", std::string(200, 'x')}}.dump());
    EXPECT_EQ(r.status, 413) << r.body;
    EXPECT_EQ(error_code(r), "too_large");
    // A body above the listener's limit (1 MiB): refused on its Content-Length.
    auto client = http_test_client::connect(ports_.http);
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->send_raw(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{\"topic\""));
    auto big = client->read_reply();
    ASSERT_TRUE(big) << big.err().message;
    EXPECT_EQ(big->status, 413) << big->body;
    expect_up();
}

TEST_F(server_rest_test, event_by_id) {
    create_topic("e", 2);
    auto r = call("POST", "/v1/events",
                  R"({"topic":"e","key":"k","payload":{"a":[1,2]},"headers":{"x":"y"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = json_of(r)["id"];
    r = call("GET", "/v1/events/" + id);
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json_of(r);
    EXPECT_EQ(doc["id"], id);
    EXPECT_EQ(doc["key"], "k");
    EXPECT_EQ(doc["payload"], json({{"a", {1, 2}}}));
    EXPECT_EQ(doc["headers"]["x"], "y");
    EXPECT_EQ(doc["status"], "appended");
    r = call("GET", "/v1/events/" + id + "?encoding=base64");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json_of(r)["encoding"], "base64");

    EXPECT_EQ(call("GET", "/v1/events/e.0.99").status, 404);
    EXPECT_EQ(call("GET", "/v1/events/e.7.0").status, 404);
    EXPECT_EQ(call("GET", "/v1/events/nope.0.0").status, 404);
    r = call("GET", "/v1/events/garbage");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(error_code(r), "invalid_argument");
    expect_up();
}

TEST_F(server_rest_test, long_poll_subscription) {
    create_topic("s", 2);
    auto r = call("POST", "/v1/topics/subscribe", R"({"topic":"s"})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto doc = json_of(r);
    const std::string id = doc["subscription_id"];
    EXPECT_EQ(doc["partitions"], json({0, 1}));
    const std::string events_url = "/v1/subscriptions/" + id + "/events";
    EXPECT_EQ(doc["events_url"], events_url);

    // Nothing yet: an immediate poll is empty, a waiting one times out empty.
    r = call("GET", events_url);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(json_of(r)["events"].empty());
    r = call("GET", events_url + "?wait_ms=100");
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(json_of(r)["events"].empty());

    // A waiting poll is answered by a publish.
    std::thread publisher([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        call("POST", "/v1/events", R"({"topic":"s","payload":"hello"})");
    });
    r = call("GET", events_url + "?wait_ms=10000");
    publisher.join();
    ASSERT_EQ(r.status, 200) << r.body;
    doc = json_of(r);
    ASSERT_EQ(doc["events"].size(), 1u) << r.body;
    EXPECT_EQ(doc["events"][0]["payload"], "hello");

    // max bounds one answer. A poll answers with what has reached the subscription so far,
    // and acknowledged events reach it a moment after their acks, so the five events may
    // come in more answers than the bound needs: poll until all five are in.
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(call("POST", "/v1/events", json{{"topic", "s"}, {"payload", i}}.dump()).status,
                  201);
    }
    std::map<int64_t, int64_t> next_offset;  // partition -> next offset expected
    std::vector<int> payloads;
    for (int polls = 0; payloads.size() < 5 && polls < 50; ++polls) {
        r = call("GET", events_url + "?max=2&wait_ms=1000");
        ASSERT_EQ(r.status, 200) << r.body;
        const auto events = json_of(r)["events"];
        EXPECT_LE(events.size(), 2u) << r.body;
        for (const auto& e : events) {
            const int64_t partition = e["partition"];
            const int64_t offset = e["offset"];
            if (next_offset.contains(partition)) {
                EXPECT_EQ(offset, next_offset[partition]);
            }
            next_offset[partition] = offset + 1;
            payloads.push_back(e["payload"]);
        }
    }
    std::sort(payloads.begin(), payloads.end());
    EXPECT_EQ(payloads, (std::vector<int>{0, 1, 2, 3, 4}));
    r = call("GET", events_url + "?max=10");
    EXPECT_TRUE(json_of(r)["events"].empty()) << r.body;

    // Two polls at once: the second gets 409.
    std::thread waiter([&] { call("GET", events_url + "?wait_ms=1000"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    r = call("GET", events_url + "?wait_ms=1000");
    waiter.join();
    EXPECT_EQ(r.status, 409) << r.body;

    // Bad parameters.
    EXPECT_EQ(call("GET", events_url + "?max=0").status, 400);
    EXPECT_EQ(call("GET", events_url + "?max=x").status, 400);
    EXPECT_EQ(call("GET", events_url + "?wait_ms=999999").status, 400);
    EXPECT_EQ(call("GET", events_url + "?encoding=hex").status, 400);

    r = call("DELETE", "/v1/subscriptions/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(call("GET", events_url).status, 404);
    EXPECT_EQ(call("DELETE", "/v1/subscriptions/" + id).status, 404);
    expect_up();
}

TEST_F(server_rest_test, subscribe_errors) {
    create_topic("s");
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", R"({"topic":"nope"})").status, 404);
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", R"({})").status, 400);
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", R"({"topic":"s","start":"soon"})").status, 400);
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", R"({"topic":"s","start":"offset"})").status,
              400);
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", R"({"topic":"s","start":"committed"})").status,
              400);
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", R"({"topic":"s","partitions":[5]})").status,
              404);
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", R"({"topic":"s","partitions":"0"})").status,
              400);
    EXPECT_EQ(call("POST", "/v1/topics/subscribe", "{").status, 400);
    EXPECT_EQ(call("GET", "/v1/subscriptions/nope/events").status, 404);
    expect_up();
}

TEST_F(server_rest_test, group_offsets_commit_on_the_next_poll) {
    create_topic("g");
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(call("POST", "/v1/events", json{{"topic", "g"}, {"payload", i}}.dump()).status,
                  201);
    }
    auto r = call("POST", "/v1/topics/subscribe",
                  R"({"topic":"g","group":"workers","start":"committed","fallback":"earliest"})");
    ASSERT_EQ(r.status, 201) << r.body;
    std::string id = json_of(r)["subscription_id"];
    r = call("GET", "/v1/subscriptions/" + id + "/events?max=2&wait_ms=1000");
    ASSERT_EQ(json_of(r)["events"].size(), 2u) << r.body;
    // The next poll commits the first two; delete ends it.
    r = call("GET", "/v1/subscriptions/" + id + "/events?max=1&wait_ms=1000");
    ASSERT_EQ(json_of(r)["events"].size(), 1u) << r.body;
    ASSERT_EQ(call("DELETE", "/v1/subscriptions/" + id).status, 200);
    // Deleting committed the third too: a new subscription of the group starts at offset 3.
    r = call("POST", "/v1/topics/subscribe",
             R"({"topic":"g","group":"workers","start":"committed"})");
    ASSERT_EQ(r.status, 201) << r.body;
    id = json_of(r)["subscription_id"];
    r = call("GET", "/v1/subscriptions/" + id + "/events?wait_ms=1000");
    const auto doc = json_of(r);
    ASSERT_EQ(doc["events"].size(), 1u) << r.body;
    EXPECT_EQ(doc["events"][0]["offset"], 3);
}

TEST_F(server_rest_test, cluster_and_metrics) {
    auto r = call("GET", "/v1/cluster");
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json_of(r);
    EXPECT_EQ(doc["node_id"], 1);
    ASSERT_EQ(doc["nodes"].size(), 1u);
    EXPECT_EQ(doc["nodes"][0]["http_port"], ports_.http);

    create_topic("m");
    ASSERT_EQ(call("POST", "/v1/events", R"({"topic":"m","payload":1})").status, 201);
    for (const char* path : {"/metrics", "/v1/metrics"}) {
        r = call("GET", path);
        ASSERT_EQ(r.status, 200);
        EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
        EXPECT_NE(
            r.body.find(R"(eventstream_edge_events_published_total{topic="m",transport="http"} 1)"),
            std::string::npos)
            << r.body;
        EXPECT_NE(r.body.find("eventstream_edge_publish_duration_seconds_bucket{topic=\"m\""),
                  std::string::npos);
        EXPECT_NE(r.body.find("eventstream_http_request_duration_seconds_count"),
                  std::string::npos);
    }
    // A deleted topic's series go away.
    ASSERT_EQ(call("DELETE", "/v1/topics/m").status, 200);
    r = call("GET", "/metrics");
    EXPECT_EQ(r.body.find("topic=\"m\""), std::string::npos);
}

TEST_F(server_rest_test, path_parameters_and_methods) {
    create_topic("subscribe");  // a topic named like the literal route
    auto r = call("GET", "/v1/topics/subscribe");
    EXPECT_EQ(r.status, 200) << r.body;
    r = call("PUT", "/v1/topics/x");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "DELETE, GET");
    EXPECT_EQ(call("GET", "/v1/topics/a/b").status, 404);
    EXPECT_EQ(call("GET", "/v1/stream").status, 426);
    EXPECT_EQ(call("GET", "/v1/topics/%73ubscribe").status, 200);  // percent-decoded
}

TEST_F(server_rest_test, slow_clients_do_not_stall_the_node) {
    // Slowloris: many connections that send a request a byte at a time and never finish.
    std::vector<http_test_client> slow;
    for (int i = 0; i < 50; ++i) {
        auto c = http_test_client::connect(ports_.http);
        ASSERT_TRUE(c) << c.err().message;
        ASSERT_TRUE(c->send_raw("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Le"));
        slow.push_back(std::move(*c));
    }
    create_topic("t");
    for (int round = 0; round < 5; ++round) {
        for (auto& c : slow) (void)c.send_raw("n");
        const auto r = call("POST", "/v1/events", R"({"topic":"t","payload":1})");
        EXPECT_EQ(r.status, 201) << r.body;
    }
    // A client that sends a body slower than it promised, then goes away.
    auto c = http_test_client::connect(ports_.http);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send_raw("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
    slow.clear();
    expect_up();
}

TEST_F(server_rest_test, a_request_trickled_a_byte_at_a_time_is_closed_at_the_io_timeout) {
    server_launch launch;
    launch.flags["http_io_timeout_ms"] = "1000";
    server::ports_record ports;
    server_process* node = start_ready(launch, &ports);
    ASSERT_NE(node, nullptr);
    auto c = http_test_client::connect(ports.http);
    ASSERT_TRUE(c) << c.err().message;
    const auto start = std::chrono::steady_clock::now();
    // A byte every 200 ms: the request's deadline counts from its start, not from the last byte.
    const std::string request = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n";
    for (size_t i = 0; i < 6 && i < request.size(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        (void)c->send_raw(request.substr(i, 1));
    }
    EXPECT_TRUE(c->closed_by_server());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
    // A client that keeps up is served on the same node meanwhile.
    auto r = http_call(ports.http, "GET", "/health/live");
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace es::test

namespace es::test {
namespace {

// A node with the smallest ingest queue (64 KiB) and one worker: a publish whose events for
// one partition cannot fit the queue at once is refused for good (413); one whose two
// partitions' events fit one at a time but not together fills it, and the client is told to
// retry (429).
class server_backpressure_test : public server_process_fixture {};

TEST_F(server_backpressure_test, full_queue_is_429_with_retry_after) {
    server_launch launch;
    launch.flags["ingest_queue_bytes"] = "65536";
    launch.flags["workers"] = "1";
    server::ports_record ports;
    auto* node = start_ready(launch, &ports);
    ASSERT_NE(node, nullptr);
    auto created = http_call(ports.http, "POST", "/v1/topics",
                             R"({"name":"bp","partitions":2,"max_event_bytes":4096})");
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;

    nlohmann::json events = nlohmann::json::array();
    for (int i = 0; i < 1000; ++i) events.push_back({{"payload", std::string(900, 'x')}});
    auto huge = http_call(ports.http, "POST", "/v1/events?acks=0",
                          nlohmann::json{{"topic", "bp"}, {"events", events}}.dump());
    ASSERT_TRUE(huge) << huge.err().message;
    EXPECT_EQ(huge->status, 413) << huge->body;
    EXPECT_NE(huge->body.find("ingest_queue_bytes"), std::string::npos) << huge->body;

    // 44 events of 900 bytes for each partition: about 41 KB each, 83 KB together.
    events = nlohmann::json::array();
    int per_partition[2] = {0, 0};
    for (int k = 0; per_partition[0] < 44 || per_partition[1] < 44; ++k) {
        const std::string key = "k" + std::to_string(k);
        const auto p = stable_hash(key) % 2;
        if (per_partition[p] == 44) continue;
        per_partition[p]++;
        events.push_back({{"key", key}, {"payload", std::string(900, 'x')}});
    }
    const std::string body = nlohmann::json{{"topic", "bp"}, {"events", events}}.dump();
    bool refused = false;
    for (int i = 0; i < 200 && !refused; ++i) {
        auto r = http_call(ports.http, "POST", "/v1/events?acks=0", body);
        ASSERT_TRUE(r) << r.err().message;
        if (r->status == 429) {
            refused = true;
            EXPECT_EQ(r->header("retry-after"), "1");
            EXPECT_NE(r->body.find("queue_full"), std::string::npos) << r->body;
            EXPECT_NE(r->body.find("44 of 88 events were refused"), std::string::npos) << r->body;
        } else {
            EXPECT_EQ(r->status, 202) << r->body;
        }
    }
    EXPECT_TRUE(refused) << "no publish was refused with a 64 KiB ingest queue";
    auto ready = http_call(ports.http, "GET", "/health/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
}

}  // namespace
}  // namespace es::test
