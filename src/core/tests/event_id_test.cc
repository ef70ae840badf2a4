// Event ids and event records: ids round-trip, malformed ids are refused with a reason, and a
// record copies every part of the event it views.
#include "core/event_id.h"

#include <gtest/gtest.h>

#include <string>

#include "core/batch.h"
#include "core/event_record.h"

namespace es::core {
namespace {

TEST(event_id, formats_topic_partition_and_offset) {
    EXPECT_EQ(format_event_id("orders", 3, 1042), "orders.3.1042");
    EXPECT_EQ(format_event_id("a.b", 0, 0), "a.b.0.0");
}

TEST(event_id, parses_numbers_from_the_right) {
    auto id = parse_event_id("eu.orders.v2.7.18446744073709551615");
    ASSERT_TRUE(id) << id.err().message;
    EXPECT_EQ(id->topic, "eu.orders.v2");
    EXPECT_EQ(id->partition, 7u);
    EXPECT_EQ(id->offset, UINT64_MAX);

    auto simple = parse_event_id("orders.4294967295.0");
    ASSERT_TRUE(simple) << simple.err().message;
    EXPECT_EQ(simple->topic, "orders");
    EXPECT_EQ(simple->partition, UINT32_MAX);
    EXPECT_EQ(simple->offset, 0u);
}

TEST(event_id, round_trips) {
    for (const char* topic : {"t", "a-b_c", "x.y.z", "..."}) {
        const std::string text = format_event_id(topic, 12, 345);
        auto id = parse_event_id(text);
        ASSERT_TRUE(id) << text << ": " << id.err().message;
        EXPECT_EQ(id->topic, topic);
        EXPECT_EQ(id->partition, 12u);
        EXPECT_EQ(id->offset, 345u);
    }
}

TEST(event_id, refuses_malformed_text) {
    const char* bad[] = {
        "",                               // nothing
        "orders",                         // no numbers
        "orders.1",                       // one number
        ".1.2",                           // empty topic
        "1.2",                            // no topic
        "orders..2",                      // empty partition
        "orders.1.",                      // empty offset
        "orders.+1.2",                    // sign
        "orders.1.-2",                    // sign
        "orders.01.2",                    // leading zero
        "orders.1.002",                   // leading zero
        "orders. 1.2",                    // space
        "orders.1.2x",                    // trailing junk
        "orders.0x1.2",                   // hex
        "orders.4294967296.0",            // partition overflows 32 bits
        "orders.1.18446744073709551616",  // offset overflows 64 bits
        "ord/ers.1.2",                    // character not allowed in a topic
        "...1.2",                         // topic ".." is reserved
    };
    for (const char* text : bad) {
        auto id = parse_event_id(text);
        ASSERT_FALSE(id) << "'" << text << "' parsed";
        EXPECT_EQ(id.err().code, errc::invalid_argument) << text;
        EXPECT_NE(id.err().message.find("<topic>.<partition>.<offset>"), std::string::npos)
            << id.err().message;
    }
}

TEST(event_id, messages_say_what_is_wrong) {
    EXPECT_NE(parse_event_id("orders.x.1").err().message.find("partition"), std::string::npos);
    EXPECT_NE(parse_event_id("orders.1.x").err().message.find("offset"), std::string::npos);
    EXPECT_NE(parse_event_id("or$ders.1.1").err().message.find("topic"), std::string::npos);
}

TEST(event_record, copies_every_part_of_the_event) {
    const header_in headers[] = {{"trace", "abc"}, {"empty", ""}};
    event_in e{"k", true, "payload", headers, 77};
    auto b = event_batch::create(256);
    ASSERT_TRUE(b->append(e));
    store_le<uint64_t>(b->data() + record_field::offset, 9);
    const event_record r = event_record::of(2, event_view::of(b->data()));
    EXPECT_EQ(r.partition, 2u);
    EXPECT_EQ(r.offset, 9u);
    EXPECT_EQ(r.timestamp_ns, 77);
    ASSERT_TRUE(r.key);
    EXPECT_EQ(*r.key, "k");
    EXPECT_EQ(r.payload, "payload");
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"trace", "abc"}));
    EXPECT_EQ(r.headers[1], (std::pair<std::string, std::string>{"empty", ""}));

    auto unkeyed = event_batch::create(256);
    ASSERT_TRUE(unkeyed->append(event_in::without_key("p")));
    EXPECT_FALSE(event_record::of(0, event_view::of(unkeyed->data())).key);
}

}  // namespace
}  // namespace es::core
