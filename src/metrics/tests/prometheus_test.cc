// Tests of the Prometheus text exposition: exact text of a small registry, escaping, and the
// invariants of exported histogram buckets parsed back from the text.
#include "metrics/prometheus.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace es::metrics {
namespace {

std::string exposition(const registry& reg) {
    std::string out;
    write_prometheus(reg, out);
    return out;
}

TEST(prometheus, exact_text_of_a_small_registry) {
    registry reg;
    auto in = reg.add_counter("es_events_in_total", "Events accepted.",
                              {{"topic", "orders"}, {"partition", "0"}});
    ASSERT_TRUE(reg.add_counter("es_events_in_total", "Events accepted.",
                                {{"topic", "orders"}, {"partition", "1"}}));
    auto conns = reg.add_gauge("es_connections", "Open connections.");
    auto ratio = reg.add_double_gauge("es_ratio", "A ratio.\nSecond line with \\ backslash.");
    auto batch = reg.add_histogram("es_batch_events", "Events per batch.", {{"topic", "orders"}},
                                   {.le_first = 1, .le_last = 10});
    ASSERT_TRUE(in && conns && ratio && batch);
    (*in)->inc(3);
    (*conns)->set(-2);
    (*ratio)->set(0.5);
    for (uint64_t v : {0, 1, 3, 7, 100}) {
        (*batch)->record(v);
    }

    EXPECT_EQ(exposition(reg),
              "# HELP es_batch_events Events per batch.\n"
              "# TYPE es_batch_events histogram\n"
              "es_batch_events_bucket{topic=\"orders\",le=\"1\"} 2\n"
              "es_batch_events_bucket{topic=\"orders\",le=\"2\"} 2\n"
              "es_batch_events_bucket{topic=\"orders\",le=\"5\"} 3\n"
              "es_batch_events_bucket{topic=\"orders\",le=\"10\"} 4\n"
              "es_batch_events_bucket{topic=\"orders\",le=\"+Inf\"} 5\n"
              "es_batch_events_sum{topic=\"orders\"} 111\n"
              "es_batch_events_count{topic=\"orders\"} 5\n"
              "# HELP es_connections Open connections.\n"
              "# TYPE es_connections gauge\n"
              "es_connections -2\n"
              "# HELP es_events_in_total Events accepted.\n"
              "# TYPE es_events_in_total counter\n"
              "es_events_in_total{partition=\"0\",topic=\"orders\"} 3\n"
              "es_events_in_total{partition=\"1\",topic=\"orders\"} 0\n"
              "# HELP es_ratio A ratio.\\nSecond line with \\\\ backslash.\n"
              "# TYPE es_ratio gauge\n"
              "es_ratio 0.5\n");
}

TEST(prometheus, escapes_label_values) {
    registry reg;
    ASSERT_TRUE(reg.add_gauge("g", "G.", {{"topic", "a\"b\\c\nd"}}));
    EXPECT_EQ(exposition(reg),
              "# HELP g G.\n"
              "# TYPE g gauge\n"
              "g{topic=\"a\\\"b\\\\c\\nd\"} 0\n");
}

TEST(prometheus, appends_and_skips_removed_series) {
    registry reg;
    ASSERT_TRUE(reg.add_gauge("gone", "G.", {{"topic", "t"}}));
    ASSERT_TRUE(reg.remove("gone", {{"topic", "t"}}));
    std::string out = "keep\n";
    write_prometheus(reg, out);
    EXPECT_EQ(out, "keep\n");
}

TEST(prometheus, double_gauge_special_values) {
    registry reg;
    auto inf = reg.add_double_gauge("d", "D.", {{"k", "inf"}});
    auto nan = reg.add_double_gauge("d", "D.", {{"k", "nan"}});
    auto small = reg.add_double_gauge("d", "D.", {{"k", "small"}});
    ASSERT_TRUE(inf && nan && small);
    (*inf)->set(-1.0 / 0.0);
    (*nan)->set(0.0 / 0.0);
    (*small)->set(0.0001);
    const std::string out = exposition(reg);
    EXPECT_NE(out.find("d{k=\"inf\"} -Inf\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d{k=\"nan\"} NaN\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d{k=\"small\"} 0.0001\n"), std::string::npos) << out;
}

// One `name{labels} value` line, split at the last space.
struct sample_line {
    std::string series;
    std::string value;
};

std::vector<sample_line> samples_of(const std::string& text, const std::string& prefix) {
    std::vector<sample_line> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(prefix)) {
            const auto space = line.rfind(' ');
            out.push_back({line.substr(0, space), line.substr(space + 1)});
        }
    }
    return out;
}

TEST(prometheus, latency_histogram_in_seconds_parses_back) {
    registry reg;
    auto h = reg.add_histogram("es_publish_latency_seconds", "Publish latency.",
                               {{"topic", "orders"}}, latency_ns_options);
    ASSERT_TRUE(h);
    uint64_t sum_ns = 0;
    for (uint64_t i = 1; i <= 10'000; ++i) {
        const uint64_t ns = i * i * 50;  // 50 ns .. 5 s
        (*h)->record(ns);
        sum_ns += ns;
    }
    const std::string text = exposition(reg);

    const auto buckets = samples_of(text, "es_publish_latency_seconds_bucket{");
    ASSERT_EQ(buckets.size(), 26u);  // 25 boundaries 100 ns .. 10 s, then +Inf
    EXPECT_EQ(buckets.front().series,
              "es_publish_latency_seconds_bucket{topic=\"orders\",le=\"1e-07\"}");
    EXPECT_EQ(buckets[9].series,
              "es_publish_latency_seconds_bucket{topic=\"orders\",le=\"0.0001\"}");
    EXPECT_EQ(buckets[24].series, "es_publish_latency_seconds_bucket{topic=\"orders\",le=\"10\"}");
    EXPECT_EQ(buckets.back().series,
              "es_publish_latency_seconds_bucket{topic=\"orders\",le=\"+Inf\"}");
    uint64_t last = 0;
    double last_le = 0;
    for (const auto& b : buckets) {
        const uint64_t n = std::stoull(b.value);
        EXPECT_GE(n, last) << b.series;
        last = n;
        const auto le_at = b.series.find("le=\"") + 4;
        const std::string le = b.series.substr(le_at, b.series.size() - le_at - 2);
        if (le != "+Inf") {
            const double bound = std::strtod(le.c_str(), nullptr);
            EXPECT_GT(bound, last_le);
            last_le = bound;
            // Values i*i*50 ns <= bound s, less at most those within 1/32 below the bound.
            uint64_t want = 0;
            uint64_t want_low = 0;
            for (uint64_t i = 1; i <= 10'000; ++i) {
                const double s = static_cast<double>(i * i * 50) / 1e9;
                want += s <= bound ? 1 : 0;
                want_low += s <= bound * 31 / 32 ? 1 : 0;
            }
            EXPECT_LE(n, want) << b.series;
            EXPECT_GE(n, want_low) << b.series;
        }
    }
    const auto count = samples_of(text, "es_publish_latency_seconds_count{");
    const auto sum = samples_of(text, "es_publish_latency_seconds_sum{");
    ASSERT_EQ(count.size(), 1u);
    ASSERT_EQ(sum.size(), 1u);
    EXPECT_EQ(count[0].value, "10000");
    EXPECT_EQ(buckets.back().value, count[0].value);
    EXPECT_DOUBLE_EQ(std::strtod(sum[0].value.c_str(), nullptr), static_cast<double>(sum_ns) / 1e9);
}

TEST(prometheus, content_type) {
    EXPECT_EQ(prometheus_content_type, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace es::metrics
