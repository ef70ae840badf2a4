// Tests of the direct publish-body decoder: whatever it takes must decode exactly as the full
// decoder does, and it must take the plain bodies it is there for.
#include "server/event_json_direct.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "server/event_json.h"

namespace es::server {
namespace {

// The full decoder alone (decode_publish_body tries the direct one first).
result<decoded_publish> full(std::string_view body) {
    auto doc = parse_json_body(body);
    if (!doc) return std::move(doc).err();
    return decode_publish(*doc);
}

void expect_same_as_full(std::string_view body, const decoded_publish& direct) {
    SCOPED_TRACE(std::string(body));
    auto f = full(body);
    ASSERT_TRUE(f) << f.err().message;
    EXPECT_EQ(direct.topic, f->topic);
    EXPECT_EQ(direct.batch, f->batch);
    ASSERT_EQ(direct.events.size(), f->events.size());
    for (size_t i = 0; i < direct.events.size(); ++i) {
        EXPECT_EQ(direct.events[i].key, f->events[i].key);
        EXPECT_EQ(direct.events[i].payload, f->events[i].payload);
        EXPECT_EQ(direct.events[i].headers, f->events[i].headers);
    }
}

TEST(event_json_direct_test, takes_plain_events_and_decodes_them_as_the_full_decoder) {
    const std::string taken[] = {
        R"({"topic":"bench","payload":"xxxxxxxx"})",
        R"(  {"payload" : "a b/c" , "topic":"t"}  )",
        R"({"topic":"t","key":"k","payload":{"a":1,"b":[true,false,null,-12],"c":{}}})",
        R"({"topic":"t","key":"","payload":[]})",
        R"({"topic":"t","key":null,"payload":0})",
        R"({"topic":"t","payload":{ "a" : [ 1 , 2 ] ,
            "b" : "x" }})",
        R"({"topic":"t","payload":"aGk=","encoding":"base64"})",
        R"({"encoding":"json","topic":"t","payload":123456789012345678})",
        R"({"topic":"t","payload":null})",
        "{\"topic\":\"t\",\"payload\":[[[[1]]]]}\n",
    };
    for (const auto& body : taken) {
        auto direct = decode_publish_direct(body);
        ASSERT_TRUE(direct) << body;
        expect_same_as_full(body, *direct);
        auto through = decode_publish_body(body);
        ASSERT_TRUE(through);
        EXPECT_EQ(through->events[0].payload, direct->events[0].payload);
    }
}

TEST(event_json_direct_test, leaves_everything_else_to_the_full_decoder) {
    const std::string left[] = {
        R"({"topic":"t","payload":{"b":1,"a":2}})",        // keys out of order: sorted on dump
        R"({"topic":"t","payload":{"a":1,"a":2}})",        // repeated key
        R"({"topic":"t","payload":1.5})",                  // doubles are written back otherwise
        R"({"topic":"t","payload":1e3})",                  //
        R"({"topic":"t","payload":-0})",                   // written back as 0
        R"({"topic":"t","payload":1234567890123456789})",  // more digits than taken
        R"({"topic":"t","payload":"a\"b"})",               // escapes
        R"({"topic":"t","payload":"caf\u00e9"})",
        "{\"topic\":\"t\",\"payload\":\"caf\xc3\xa9\"}",  // not ASCII
        R"({"topic":"t","payload":1,"headers":{"h":"v"}})",
        R"({"topic":"t","events":[{"payload":1}]})",
        R"([{"topic":"t","payload":1}])",
        R"({"topic":"t","payload":1,"topic":"u"})",  // repeated field
        R"({"topic":"t","payload":1,"x":1})",        // unknown field (an error)
        R"({"topic":"t"})",                          // no payload (an error)
        R"({"payload":1})",                          // no topic (an error)
        R"({"topic":1,"payload":1})",
        R"({"topic":"t","payload":"!!","encoding":"base64"})",
        R"({"topic":"t","payload":1,"encoding":"other"})",
        R"({"topic":"t","payload":1,"key":1})",
        R"({"topic":"t","payload":truex})",
        R"({"topic":"t","payload":01})",
        R"({"topic":"t","payload":1}x)",
        R"({"topic":"t","payload":1,})",
        R"({"topic":"t","payload":[1,]})",
        R"({"topic":"t","payload":1)",
        R"({})",
        "",
        "\xef\xbb\xbf{\"topic\":\"t\",\"payload\":1}",  // BOM
        std::string(R"({"topic":"t","payload":)") + std::string(64, '[') + std::string(64, ']') +
            "}",  // deeper than the limit
    };
    for (const auto& body : left) EXPECT_FALSE(decode_publish_direct(body)) << body;
}

// Random bodies built from pieces the direct decoder takes or refuses: whenever it takes one,
// the full decoder must agree.
TEST(event_json_direct_test, random_bodies_agree_with_the_full_decoder) {
    std::mt19937 rng(20261127);
    const std::vector<std::string> values = {"1",
                                             "-7",
                                             "0",
                                             "\"s\"",
                                             "\"\"",
                                             "true",
                                             "false",
                                             "null",
                                             "1.0",
                                             "-0",
                                             "[]",
                                             "{}",
                                             "[1,\"a\"]",
                                             "{\"a\":1}",
                                             "{\"b\":2,\"a\":1}",
                                             "\"\\n\"",
                                             " 2 ",
                                             "[ ]",
                                             "{\"a\":{\"b\":[null]}}",
                                             "\"aGk=\"",
                                             "012",
                                             "[1,2",
                                             "tru"};
    // Each field with its chance to appear; a field may also appear twice.
    const std::vector<std::pair<std::string, unsigned>> fields = {
        {"topic", 90}, {"payload", 90}, {"key", 50}, {"encoding", 30}, {"headers", 10}, {"x", 5}};
    const std::vector<std::string> texts = {"\"t\"", "\"json\"", "\"base64\"",
                                            "null",  "1",        "{\"h\":\"v\"}"};
    int taken = 0;
    for (int round = 0; round < 20'000; ++round) {
        std::vector<std::string> members;
        for (const auto& [name, percent] : fields) {
            for (int copy = 0; copy < (rng() % 100 < 5 ? 2 : 1); ++copy) {
                if (rng() % 100 >= percent) continue;
                std::string value;
                if (name == "payload") {
                    value = values[rng() % values.size()];
                } else if (name == "topic") {
                    value = rng() % 10 == 0 ? "1" : "\"t\"";
                } else if (name == "encoding") {
                    value = rng() % 2 == 0 ? "\"json\"" : "\"base64\"";
                } else {
                    value = texts[rng() % texts.size()];
                }
                members.push_back("\"" + name + "\":" + value);
            }
        }
        std::shuffle(members.begin(), members.end(), rng);
        std::string body = "{";
        for (size_t i = 0; i < members.size(); ++i) {
            if (i > 0) body += rng() % 8 == 0 ? " , " : ",";
            body += members[i];
        }
        body += "}";
        if (auto direct = decode_publish_direct(body)) {
            ++taken;
            expect_same_as_full(body, *direct);
        }
    }
    EXPECT_GT(taken, 2'000);  // the generator reaches the direct path
}

}  // namespace
}  // namespace es::server
