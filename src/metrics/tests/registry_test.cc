// Tests of registry: name and label rules, type conflicts, identical series, removal, limits.
#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <string>

#include "metrics/names.h"

namespace es::metrics {
namespace {

// Counts the series visit() shows.
class series_counter final : public registry_visitor {
  public:
    void on_family(const family_info&) override { ++families; }
    void on_series(const family_info&, const series_info&) override { ++series; }
    int families = 0;
    int series = 0;
};

TEST(metric_names, prometheus_rules) {
    for (const char* good : {"a", "_x", ":x", "a:b_c9", "eventstream_events_in_total"}) {
        EXPECT_TRUE(is_valid_metric_name(good)) << good;
    }
    for (const char* bad : {"", "1abc", "a-b", "a b", "a.b", "caf\xc3\xa9", "a\n"}) {
        EXPECT_FALSE(is_valid_metric_name(bad)) << bad;
    }
    for (const char* good : {"a", "_x", "topic", "le", "x_9"}) {
        EXPECT_TRUE(is_valid_label_name(good)) << good;
    }
    for (const char* bad : {"", "__name__", "__x", "1a", "a:b", "a-b"}) {
        EXPECT_FALSE(is_valid_label_name(bad)) << bad;
    }
}

TEST(registry, rejects_bad_metric_names) {
    registry reg;
    for (const char* bad : {"", "9lives_total", "bad-name_total", "with space_total"}) {
        auto r = reg.add_counter(bad, "help");
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.err().code, errc::invalid_argument);
    }
    auto long_name = reg.add_gauge(std::string(max_metric_name_bytes + 1, 'a'), "help");
    ASSERT_FALSE(long_name);
    EXPECT_EQ(long_name.err().code, errc::invalid_argument);
    EXPECT_EQ(reg.series_count(), 0u);
}

TEST(registry, counter_names_must_end_in_total) {
    registry reg;
    auto r = reg.add_counter("eventstream_events_in", "Events accepted.");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find("_total"), std::string::npos);
    EXPECT_TRUE(reg.add_counter("eventstream_events_in_total", "Events accepted."));
}

TEST(registry, same_name_with_another_type_is_rejected) {
    registry reg;
    ASSERT_TRUE(reg.add_gauge("queue_depth", "Depth."));
    auto h = reg.add_histogram("queue_depth", "Depth.");
    ASSERT_FALSE(h);
    EXPECT_EQ(h.err().code, errc::already_exists);
    EXPECT_NE(h.err().message.find("gauge"), std::string::npos);
    auto d = reg.add_double_gauge("queue_depth", "Depth.");
    ASSERT_FALSE(d);
    EXPECT_EQ(d.err().code, errc::already_exists);
    // Another label set does not make the type free either.
    EXPECT_FALSE(reg.add_double_gauge("queue_depth", "Depth.", {{"topic", "a"}}));
}

TEST(registry, same_name_with_other_help_or_options_is_rejected) {
    registry reg;
    ASSERT_TRUE(reg.add_gauge("g", "One help."));
    auto r = reg.add_gauge("g", "Another help.", {{"x", "1"}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::already_exists);

    ASSERT_TRUE(reg.add_histogram("lat_seconds", "Latency.", {}, latency_ns_options));
    auto h = reg.add_histogram("lat_seconds", "Latency.", {{"topic", "a"}});
    ASSERT_FALSE(h);
    EXPECT_EQ(h.err().code, errc::already_exists);
    EXPECT_TRUE(reg.add_histogram("lat_seconds", "Latency.", {{"topic", "a"}}, latency_ns_options));
}

TEST(registry, identical_series_is_returned_again) {
    registry reg;
    auto a = reg.add_counter("in_total", "In.", {{"topic", "orders"}, {"partition", "1"}});
    auto b = reg.add_counter("in_total", "In.", {{"partition", "1"}, {"topic", "orders"}});
    auto other = reg.add_counter("in_total", "In.", {{"topic", "orders"}, {"partition", "2"}});
    ASSERT_TRUE(a && b && other);
    EXPECT_EQ(a->get(), b->get());
    EXPECT_NE(a->get(), other->get());
    (*a)->inc(3);
    EXPECT_EQ((*b)->value(), 3u);
    EXPECT_EQ(reg.series_count(), 2u);

    auto h1 = reg.add_histogram("h", "H.");
    auto h2 = reg.add_histogram("h", "H.");
    ASSERT_TRUE(h1 && h2);
    EXPECT_EQ(h1->get(), h2->get());
}

TEST(registry, rejects_bad_labels) {
    registry reg;
    const label_set bad_sets[] = {
        {{"__reserved", "x"}},
        {{"1topic", "x"}},
        {{"to-pic", "x"}},
        {{"", "x"}},
        {{"topic", "a"}, {"topic", "b"}},
        {{"topic", std::string(max_label_value_bytes + 1, 'v')}},
    };
    for (const auto& labels : bad_sets) {
        auto r = reg.add_gauge("g", "G.", labels);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::invalid_argument) << r.err().message;
    }
    label_set too_many;
    for (std::size_t i = 0; i <= max_labels_per_series; ++i) {
        std::string name = "l";  // appended, not `"l" + ...`: GCC 12 false -Wrestrict
        name += std::to_string(i);
        too_many.push_back({name, "v"});
    }
    EXPECT_FALSE(reg.add_gauge("g", "G.", too_many));
    // "le" is the bucket label of histograms, free for other types.
    EXPECT_FALSE(reg.add_histogram("h", "H.", {{"le", "1"}}));
    EXPECT_TRUE(reg.add_gauge("g", "G.", {{"le", "1"}}));
    // Any bytes are fine in values; the exposition escapes them.
    EXPECT_TRUE(reg.add_gauge("g", "G.", {{"topic", "a\"b\\c\nd"}}));
}

TEST(registry, histogram_sample_names_may_not_clash) {
    registry reg;
    ASSERT_TRUE(reg.add_histogram("rpc", "RPC."));
    for (const char* name : {"rpc_bucket", "rpc_sum", "rpc_count"}) {
        auto r = reg.add_gauge(name, "G.");
        ASSERT_FALSE(r) << name;
        EXPECT_EQ(r.err().code, errc::already_exists);
    }
    ASSERT_TRUE(reg.add_gauge("io_count", "G."));
    auto h = reg.add_histogram("io", "IO.");
    ASSERT_FALSE(h);
    EXPECT_EQ(h.err().code, errc::already_exists);
}

TEST(registry, rejects_bad_histogram_options) {
    registry reg;
    EXPECT_FALSE(reg.add_histogram("h1", "H.", {}, {.unit_divisor = 0.0}));
    EXPECT_FALSE(reg.add_histogram("h2", "H.", {}, {.unit_divisor = -1.0}));
    EXPECT_FALSE(reg.add_histogram("h3", "H.", {}, {.le_first = 0}));
    EXPECT_FALSE(reg.add_histogram("h4", "H.", {}, {.le_first = 10, .le_last = 5}));
    EXPECT_TRUE(reg.add_histogram("h5", "H.", {}, {.le_first = 10, .le_last = 10}));
}

TEST(registry, remove_stops_export_but_keeps_the_metric_alive) {
    registry reg;
    auto c = reg.add_counter("in_total", "In.", {{"topic", "orders"}});
    ASSERT_TRUE(c);
    std::shared_ptr<counter> held = *c;
    held->inc(5);
    ASSERT_TRUE(reg.add_counter("in_total", "In.", {{"topic", "users"}}));

    EXPECT_TRUE(reg.remove("in_total", {{"topic", "orders"}}));
    EXPECT_EQ(reg.series_count(), 1u);
    auto again = reg.remove("in_total", {{"topic", "orders"}});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.err().code, errc::not_found);
    EXPECT_EQ(reg.remove("nope_total", {}).err().code, errc::not_found);

    held->inc();  // the hot path may still hold it: no dangling pointer
    EXPECT_EQ(held->value(), 6u);

    // A new series under the same labels starts from zero.
    auto fresh = reg.add_counter("in_total", "In.", {{"topic", "orders"}});
    ASSERT_TRUE(fresh);
    EXPECT_NE(fresh->get(), held.get());
    EXPECT_EQ((*fresh)->value(), 0u);

    // A family whose last series went keeps its type, and visit() skips it.
    ASSERT_TRUE(reg.add_gauge("g", "G."));
    ASSERT_TRUE(reg.remove("g", {}));
    EXPECT_FALSE(reg.add_histogram("g", "G."));
    series_counter seen;
    reg.visit(seen);
    EXPECT_EQ(seen.families, 1);
    EXPECT_EQ(seen.series, 2);
}

TEST(registry, series_limit) {
    registry reg({.series_max = 3});
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(reg.add_gauge("g", "G.", {{"i", std::to_string(i)}}));
    }
    auto r = reg.add_gauge("g", "G.", {{"i", "3"}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::too_large);
    // An existing series is still returned, and removal frees room.
    EXPECT_TRUE(reg.add_gauge("g", "G.", {{"i", "0"}}));
    ASSERT_TRUE(reg.remove("g", {{"i", "0"}}));
    EXPECT_TRUE(reg.add_gauge("g", "G.", {{"i", "3"}}));
}

}  // namespace
}  // namespace es::metrics
