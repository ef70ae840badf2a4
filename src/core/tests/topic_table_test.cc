// Topic rules and the topic table: names, limits, create/delete/list.
#include <gtest/gtest.h>

#include <string>

#include "core/memory_partition.h"
#include "core/topic_table.h"

namespace es::core {
namespace {

topic_config config_named(std::string name) {
    topic_config c;
    c.name = std::move(name);
    return c;
}

TEST(topic_rules, names_follow_kafka) {
    EXPECT_TRUE(validate_topic_name("orders"));
    EXPECT_TRUE(validate_topic_name("a.b_c-D9"));
    EXPECT_TRUE(validate_topic_name(std::string(249, 'a')));
    EXPECT_FALSE(validate_topic_name(std::string(250, 'a')));
    EXPECT_FALSE(validate_topic_name(""));
    EXPECT_FALSE(validate_topic_name("."));
    EXPECT_FALSE(validate_topic_name(".."));
    EXPECT_FALSE(validate_topic_name("has space"));
    EXPECT_FALSE(validate_topic_name("slash/no"));
    EXPECT_FALSE(validate_topic_name("ünicode"));
    auto s = validate_topic_name("bad*name");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::invalid_argument);
    EXPECT_NE(s.err().message.find("'*'"), std::string::npos);
}

TEST(topic_rules, every_field_is_checked_and_named) {
    auto expect_bad = [](topic_config c, const std::string& field) {
        auto s = validate_topic_config(c);
        ASSERT_FALSE(s) << field;
        EXPECT_EQ(s.err().code, errc::invalid_argument);
        EXPECT_NE(s.err().message.find(field), std::string::npos) << s.err().message;
    };
    EXPECT_TRUE(validate_topic_config(config_named("ok")));

    auto c = config_named("t");
    c.partitions = 0;
    expect_bad(c, "partitions");
    c.partitions = max_partitions + 1;
    expect_bad(c, "partitions");

    c = config_named("t");
    c.replication_factor = 0;
    expect_bad(c, "replication_factor");
    c.replication_factor = 6;
    expect_bad(c, "replication_factor");
    c.replication_factor = 3;  // memory topics are not replicated
    expect_bad(c, "replication_factor");
    c.storage = storage_mode::durable;
    EXPECT_TRUE(validate_topic_config(c));

    c = config_named("t");
    c.retention_bytes = min_retention_bytes - 1;
    expect_bad(c, "retention_bytes");
    c.retention_bytes = max_memory_retention_bytes + 1;
    expect_bad(c, "retention_bytes");

    c = config_named("t");
    c.max_event_bytes = 0;
    expect_bad(c, "max_event_bytes");
    c.max_event_bytes = 1 << 20;
    c.retention_bytes = 1 << 20;  // cannot hold two of the largest events
    expect_bad(c, "retention_bytes");
}

TEST(topic_rules, storage_mode_parses) {
    EXPECT_EQ(*parse_storage_mode("memory"), storage_mode::memory);
    EXPECT_EQ(*parse_storage_mode("durable"), storage_mode::durable);
    EXPECT_FALSE(parse_storage_mode("disk"));
}

TEST(topic_table, create_find_list_remove) {
    topic_table table;
    auto owner = [](topic& t) -> status {
        for (uint32_t p = 0; p < t.partitions.size(); ++p) {
            t.owner_worker.push_back(p % 2);
            t.slot.push_back(p);
            t.generation.push_back(1);
        }
        return {};
    };
    auto c = config_named("b-topic");
    c.partitions = 3;
    auto t = table.create(c, owner);
    ASSERT_TRUE(t);
    EXPECT_EQ((*t)->partitions.size(), 3u);
    EXPECT_EQ((*t)->owner_worker, (std::vector<uint32_t>{0, 1, 0}));
    ASSERT_TRUE(table.create(config_named("a-topic"), owner));

    auto dup = table.create(c, owner);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.err().code, errc::already_exists);

    auto listed = table.list();
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0]->config.name, "a-topic");  // sorted by name
    EXPECT_EQ(listed[1]->config.name, "b-topic");
    EXPECT_NE(listed[0]->id, listed[1]->id);

    auto found = table.find("b-topic");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->get(), t->get());

    auto removed = table.remove("b-topic");
    ASSERT_TRUE(removed);
    EXPECT_TRUE((*removed)->deleted.load());
    EXPECT_EQ(table.find("b-topic").err().code, errc::not_found);
    EXPECT_EQ(table.remove("b-topic").err().code, errc::not_found);
    EXPECT_EQ(table.size(), 1u);
    // The handle taken before the delete stays usable (and says deleted).
    EXPECT_EQ((*t)->config.name, "b-topic");
}

TEST(topic_table, invalid_config_is_refused_before_anything_is_made) {
    topic_table table;
    auto c = config_named("bad name");
    bool prepared = false;
    auto t = table.create(c, [&](topic&) -> status {
        prepared = true;
        return {};
    });
    ASSERT_FALSE(t);
    EXPECT_EQ(t.err().code, errc::invalid_argument);
    EXPECT_FALSE(prepared);
    EXPECT_EQ(table.size(), 0u);
}

TEST(topic_table, a_failed_prepare_leaves_no_topic) {
    topic_table table;
    auto t = table.create(config_named("t"),
                          [](topic&) -> status { return make_error(errc::too_large, "no room"); });
    ASSERT_FALSE(t);
    EXPECT_EQ(t.err().code, errc::too_large);
    EXPECT_EQ(table.find("t").err().code, errc::not_found);
}

}  // namespace
}  // namespace es::core
