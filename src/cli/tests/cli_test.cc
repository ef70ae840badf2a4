// esctl's pieces without a server: line formats, --acks values, latency percentiles and the
// histogram.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/latency_summary.h"
#include "cli/line_format.h"

namespace es::cli {
namespace {

TEST(line_format, raw_lines_split_at_the_first_separator) {
    auto e = parse_raw_line("user-1:a:b", ":");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->key, std::optional<std::string>("user-1"));
    EXPECT_EQ(e->value, "a:b");
    auto no_sep = parse_raw_line("plain", ":");
    EXPECT_FALSE(no_sep->key);
    EXPECT_EQ(no_sep->value, "plain");
    auto none = parse_raw_line("a:b", "");
    EXPECT_EQ(none->value, "a:b");
}

TEST(line_format, json_lines_carry_key_value_headers) {
    auto e = parse_json_line(R"({"key":"k","value":{"n":1},"headers":{"h":"v"},"timestamp":7})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->key, std::optional<std::string>("k"));
    EXPECT_EQ(e->value, R"({"n":1})");
    ASSERT_EQ(e->headers.size(), 1u);
    EXPECT_EQ(e->headers[0].name, "h");
    EXPECT_EQ(e->timestamp_ns, 7);
    EXPECT_FALSE(parse_json_line("nope"));
    EXPECT_FALSE(parse_json_line(R"({"key":"k"})"));  // no value
    EXPECT_FALSE(parse_json_line(R"({"key":1,"value":"v"})"));
    EXPECT_FALSE(parse_json_line(R"({"value":"v","headers":{"h":1}})"));
}

TEST(line_format, record_json_has_every_field) {
    eventstream::consumer_record r;
    r.partition = 1;
    r.offset = 9;
    r.timestamp_ns = 5;
    r.value = "v\xff";  // not UTF-8: replaced, not thrown
    r.headers.push_back({"h", "x"});
    auto j = nlohmann::json::parse(record_json(r));
    EXPECT_EQ(j["partition"], 1);
    EXPECT_EQ(j["offset"], 9);
    EXPECT_EQ(j["timestamp"], 5);
    EXPECT_TRUE(j["key"].is_null());
    EXPECT_EQ(j["headers"]["h"], "x");
    EXPECT_TRUE(j["value"].is_string());
    r.key = "k";
    EXPECT_EQ(record_raw(r, "="), "k=v\xff");
    EXPECT_EQ(record_raw(r, ""), "v\xff");
}

TEST(acks, names_and_numbers) {
    EXPECT_EQ(parse_acks("0"), eventstream::acks::none);
    EXPECT_EQ(parse_acks("leader"), eventstream::acks::leader);
    EXPECT_EQ(parse_acks("1"), eventstream::acks::leader);
    EXPECT_EQ(parse_acks("all"), eventstream::acks::all);
    EXPECT_EQ(parse_acks("-1"), eventstream::acks::all);
    EXPECT_FALSE(parse_acks("2"));
}

TEST(latency_summary, nearest_rank_percentiles) {
    std::vector<int64_t> samples;
    for (int64_t i = 1000; i >= 1; --i) samples.push_back(i * 1000);  // 1..1000 us, reversed
    auto s = summarize(samples);
    EXPECT_EQ(s.count, 1000u);
    EXPECT_EQ(s.min_ns, 1000);
    EXPECT_EQ(s.p50_ns, 500'000);
    EXPECT_EQ(s.p90_ns, 900'000);
    EXPECT_EQ(s.p99_ns, 990'000);
    EXPECT_EQ(s.p999_ns, 999'000);
    EXPECT_EQ(s.max_ns, 1'000'000);
    std::vector<int64_t> none;
    EXPECT_EQ(summarize(none).count, 0u);
}

TEST(latency_summary, histogram_buckets_double_and_count_every_sample) {
    std::vector<int64_t> samples = {1000, 1500, 3000, 3000, 9000};  // 1, 1.5, 3, 3, 9 us
    const std::string h = ascii_histogram(samples, 10);
    // Buckets 1-2, 2-4, 4-8, 8-16 us with 2, 2, 0, 1 samples.
    EXPECT_NE(h.find("1-2"), std::string::npos) << h;
    EXPECT_NE(h.find("| 2\n"), std::string::npos) << h;
    EXPECT_NE(h.find("| 0\n"), std::string::npos) << h;
    EXPECT_NE(h.find("| 1\n"), std::string::npos) << h;
    EXPECT_NE(h.find("##########"), std::string::npos) << h;  // the largest bucket is full
    EXPECT_EQ(ascii_histogram({}, 10), "");
}

}  // namespace
}  // namespace es::cli
