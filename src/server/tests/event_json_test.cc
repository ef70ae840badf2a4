// Tests of the JSON event body (decode_publish_body), the event encoding, base64 and the
// mapping of a publish's batches back to its events (place_events).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "server/base64.h"
#include "server/event_json.h"
#include "server/publish_call.h"
#include "server/rest_limits.h"
#include "server/subscription_spec.h"

namespace es::server {
namespace {

using json = nlohmann::json;

TEST(event_json_test, one_event_and_both_batch_forms) {
    auto one = decode_publish_body(R"({"topic":"t","key":"k","payload":{"b":[1,2]},
                                       "headers":{"h":"v"}})");
    ASSERT_TRUE(one) << one.err().message;
    EXPECT_EQ(one->topic, "t");
    EXPECT_FALSE(one->batch);
    ASSERT_EQ(one->events.size(), 1u);
    EXPECT_EQ(one->events[0].key, "k");
    EXPECT_EQ(one->events[0].payload, R"({"b":[1,2]})");
    EXPECT_EQ(one->events[0].headers.size(), 1u);

    auto batch = decode_publish_body(R"({"topic":"t","events":[{"payload":"aGk=",
                                         "encoding":"base64"},{"payload":null}]})");
    ASSERT_TRUE(batch) << batch.err().message;
    EXPECT_TRUE(batch->batch);
    ASSERT_EQ(batch->events.size(), 2u);
    EXPECT_EQ(batch->events[0].payload, "hi");
    EXPECT_FALSE(batch->events[0].key);
    EXPECT_EQ(batch->events[1].payload, "null");

    auto list = decode_publish_body(R"([{"topic":"t","payload":1},{"topic":"t","payload":2}])");
    ASSERT_TRUE(list) << list.err().message;
    EXPECT_EQ(list->events.size(), 2u);
}

TEST(event_json_test, errors_name_the_field) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"topic":"t","events":[{"payload":1},{"key":1,"payload":1}]})", "events[1].key"},
        {R"([{"topic":"t","payload":1},{"payload":1}])", "[1].topic"},
        {R"({"topic":"t","payload":1,"headers":{"a":[1]}})", "body.headers.a"},
        {R"({"topic":"t","payload":"a","encoding":"base64"})", "base64"},
        {R"({"topic":"t","payload":1,"x":1})", "body.x"},
        {"[1", "not valid JSON"},
    };
    for (const auto& [body, needle] : cases) {
        auto r = decode_publish_body(body);
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.err().code, errc::invalid_argument) << body;
        EXPECT_NE(r.err().message.find(needle), std::string::npos) << r.err().message;
    }
    json many = {{"topic", "t"}, {"events", json::array()}};
    for (size_t i = 0; i <= k_events_per_request_max; ++i)
        many["events"].push_back({{"payload", 1}});
    auto r = decode_publish_body(many.dump());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::too_large);
    r = decode_publish_body(std::string(k_json_depth_max + 2, '[') +
                            std::string(k_json_depth_max + 2, ']'));
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find("deeper"), std::string::npos);
}

TEST(event_json_test, payloads_come_back_as_json_or_base64) {
    const std::vector<std::pair<std::string, std::string>> headers = {{"h", "v"}};
    auto doc = event_json("t", 2, 7, 3'000'000, std::string("k"), R"({"a":1})", headers,
                          payload_form::automatic);
    EXPECT_EQ(doc["id"], "t.2.7");
    EXPECT_EQ(doc["payload"], json({{"a", 1}}));
    EXPECT_FALSE(doc.contains("encoding"));
    EXPECT_EQ(doc["timestamp"], 3);
    EXPECT_EQ(doc["headers"]["h"], "v");
    doc = event_json("t", 0, 0, 0, std::nullopt, std::string("\x00\xff", 2), {},
                     payload_form::automatic);
    EXPECT_EQ(doc["encoding"], "base64");
    EXPECT_EQ(base64_decode(doc["payload"].get<std::string>()), std::string("\x00\xff", 2));
    EXPECT_FALSE(doc.contains("key"));
    doc = event_json("t", 0, 0, 0, std::nullopt, "1", {}, payload_form::base64);
    EXPECT_EQ(doc["payload"], "MQ==");
}

TEST(event_json_test, base64_is_strict) {
    for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        EXPECT_EQ(base64_decode(base64_encode(s)), s);
    }
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_FALSE(base64_decode("Zm9"));
    EXPECT_FALSE(base64_decode("Zm=v"));
    EXPECT_FALSE(base64_decode("Zh=="));  // non-zero bits after the last byte
    EXPECT_FALSE(base64_decode("Zm9v!A=="));
}

TEST(event_json_test, place_events_follows_keys_and_batches) {
    const uint32_t partitions = 4;
    std::vector<core::event_in> events = {
        core::event_in::without_key("a"), core::event_in::with_key("k1", "b"),
        core::event_in::without_key("c"), core::event_in::with_key("k2", "d")};
    const auto p1 = static_cast<uint32_t>(stable_hash("k1") % partitions);
    const auto p2 = static_cast<uint32_t>(stable_hash("k2") % partitions);
    // Unkeyed events went to a partition no key hashes to, if there is one.
    uint32_t unkeyed = 0;
    while (unkeyed == p1 || unkeyed == p2) ++unkeyed;
    std::vector<core::publish_outcome> outcomes;
    outcomes.push_back({errc::ok, unkeyed, 10, 2});
    if (p1 == p2) {
        outcomes.push_back({errc::ok, p1, 5, 2});
    } else {
        outcomes.push_back({errc::ok, p2, 7, 1});
        outcomes.push_back({errc::ok, p1, 3, 1});
    }
    const auto places = place_events(events, partitions, outcomes);
    ASSERT_EQ(places.size(), 4u);
    EXPECT_EQ(places[0].partition, unkeyed);
    EXPECT_EQ(places[0].offset, 10u);
    EXPECT_EQ(places[2].offset, 11u);
    EXPECT_EQ(places[1].partition, p1);
    EXPECT_EQ(places[3].partition, p2);
    for (const auto& p : places) EXPECT_TRUE(p.appended);
    // A refused batch: nothing is placed.
    outcomes.push_back({errc::not_found, 0, 0, 1});
    for (const auto& p : place_events(events, partitions, outcomes)) EXPECT_FALSE(p.appended);
}

TEST(event_json_test, subscription_specs) {
    auto s = subscription_spec_of(
        json{{"topic", "t"}, {"start", "offset"}, {"offset", 5}, {"partitions", {0, 2}}});
    ASSERT_TRUE(s) << s.err().message;
    EXPECT_EQ(s->start.where, core::start_position::kind::offset);
    EXPECT_EQ(s->start.value, 5);
    EXPECT_EQ(s->partitions, (std::vector<uint32_t>{0, 2}));
    s = subscription_spec_of(
        json{{"topic", "t"}, {"group", "g"}, {"start", "committed"}, {"fallback", "earliest"}});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->start.fallback, core::start_position::kind::earliest);
    EXPECT_FALSE(subscription_spec_of(json{{"topic", "t"}, {"start", "committed"}}));
    EXPECT_FALSE(subscription_spec_of(json{{"topic", "t"}, {"offset", -1}}));
    EXPECT_FALSE(subscription_spec_of(json{{"topic", "t"}, {"bogus", 1}}));
    // An empty topic is refused as such, not looked up (found by rest_input_fuzz).
    auto empty = subscription_spec_of(json{{"topic", ""}});
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.err().message, "topic: must not be empty");
    EXPECT_FALSE(
        subscription_spec_of_query([](std::string_view name) -> std::optional<std::string> {
            if (name == "topic") return "";
            return std::nullopt;
        }));
    auto q = subscription_spec_of_query([](std::string_view name) -> std::optional<std::string> {
        if (name == "topic") return "t";
        if (name == "start") return "timestamp";
        if (name == "timestamp_ms") return "1000";
        if (name == "partitions") return "1,3";
        return std::nullopt;
    });
    ASSERT_TRUE(q) << q.err().message;
    EXPECT_EQ(q->start.value, 1'000'000'000);
    EXPECT_EQ(q->partitions, (std::vector<uint32_t>{1, 3}));
    EXPECT_EQ(parse_acks("leader").value(), acks_mode::leader);
    EXPECT_EQ(parse_acks("0").value(), acks_mode::none);
    EXPECT_FALSE(parse_acks("2"));
}

}  // namespace
}  // namespace es::server
