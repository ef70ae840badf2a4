// esctl against the real eventstream binary, run as a child process: topic commands, produce and
// consume in raw and JSON formats, groups, bench, --help and exit codes.
#include <nlohmann/json.hpp>

#include <sstream>

#include "tests/integration/client_test_util.h"

namespace es::test {
namespace {

class esctl : public client_fixture {
  protected:
    command_output run(std::vector<std::string> args, const std::string& input = "") {
        args.insert(args.begin(), {"--server", server_address()});
        return run_esctl(root(), args, input);
    }
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

TEST_F(esctl, topic_create_list_describe_delete) {
    auto c = run({"topic", "create", "t1", "--partitions", "3", "--storage", "durable"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto l = run({"topic", "list", "--json"});
    ASSERT_EQ(l.exit_code, 0) << l.err;
    auto topics = nlohmann::json::parse(l.out);
    ASSERT_EQ(topics.size(), 1u);
    EXPECT_EQ(topics[0]["name"], "t1");
    EXPECT_EQ(topics[0]["partitions"], 3);
    EXPECT_EQ(topics[0]["storage"], "durable");
    auto d = run({"topic", "describe", "t1"});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_NE(d.out.find("3 partitions"), std::string::npos) << d.out;
    auto again = run({"topic", "create", "t1"});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.err.find("already_exists"), std::string::npos) << again.err;
    ASSERT_EQ(run({"topic", "delete", "t1"}).exit_code, 0);
    auto missing = run({"topic", "describe", "t1"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.err;
}

TEST_F(esctl, replication_factor_is_read_as_a_number_and_checked) {
    // (It was read into a uint8_t, as the character '1', 49, which the node refused.)
    auto c = run({"topic", "create", "rf", "--replication-factor", "1", "--storage", "durable"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto d = run({"topic", "describe", "rf", "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(nlohmann::json::parse(d.out)["replication_factor"], 1) << d.out;
    auto bad = run({"topic", "create", "rf6", "--replication-factor", "6"});
    EXPECT_EQ(bad.exit_code, 2);  // a usage error, before any request
    EXPECT_NE(bad.err.find("--replication-factor"), std::string::npos) << bad.err;
    auto help = run({"topic", "create", "--help"});
    EXPECT_NE(help.out.find("[1 - 5]=1"), std::string::npos) << help.out;
}

TEST_F(esctl, produce_raw_with_keys_and_consume_json) {
    ASSERT_EQ(run({"topic", "create", "t2", "-p", "2"}).exit_code, 0);
    std::string input;
    for (int i = 0; i < 100; ++i)
        input += "key" + std::to_string(i % 4) + "=" + std::to_string(i) + "\n";
    auto p = run({"produce", "t2", "--key-separator", "=", "--acks", "all"}, input);
    ASSERT_EQ(p.exit_code, 0) << p.err;
    auto c = run({"consume", "t2", "--format", "json", "--from", "earliest"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto lines = lines_of(c.out);
    ASSERT_EQ(lines.size(), 100u);
    std::map<std::string, int> last;
    for (const auto& line : lines) {
        auto j = nlohmann::json::parse(line);
        for (const char* field : {"offset", "partition", "key", "headers", "timestamp", "value"})
            EXPECT_TRUE(j.contains(field)) << field << " missing in " << line;
        const int v = std::stoi(j["value"].get<std::string>());
        const std::string key = j["key"];
        EXPECT_EQ(key, "key" + std::to_string(v % 4));
        if (last.count(key)) {
            EXPECT_GT(v, last[key]) << "order of " << key;
        }
        last[key] = v;
    }
    // -n stops early; raw prints values.
    auto few = run({"consume", "t2", "-n", "5"});
    ASSERT_EQ(few.exit_code, 0) << few.err;
    EXPECT_EQ(lines_of(few.out).size(), 5u);
}

TEST_F(esctl, produce_json_lines_from_a_file) {
    ASSERT_EQ(run({"topic", "create", "t3"}).exit_code, 0);
    const std::string file =
        write_file("events.jsonl",
                   "{\"key\":\"a\",\"value\":\"one\",\"headers\":{\"h\":\"x\"}}\n"
                   "{\"value\":{\"n\":2}}\n");
    auto p = run({"produce", "t3", "--format", "json", "--file", file});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    auto c = run({"consume", "t3", "--format", "json"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto lines = lines_of(c.out);
    ASSERT_EQ(lines.size(), 2u);
    auto first = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(first["key"], "a");
    EXPECT_EQ(first["value"], "one");
    EXPECT_EQ(first["headers"]["h"], "x");
    auto second = nlohmann::json::parse(lines[1]);
    EXPECT_TRUE(second["key"].is_null());
    EXPECT_EQ(second["value"], "{\"n\":2}");
    // A line that is not JSON is a usage error naming the line.
    auto bad = run({"produce", "t3", "--format", "json"}, "not json\n");
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("line 1"), std::string::npos) << bad.err;
}

TEST_F(esctl, consume_from_an_offset_and_as_a_group_resumes) {
    ASSERT_EQ(run({"topic", "create", "t4", "--storage", "durable"}).exit_code, 0);
    std::string input;
    for (int i = 0; i < 10; ++i) input += std::to_string(i) + "\n";
    ASSERT_EQ(run({"produce", "t4"}, input).exit_code, 0);
    auto from = run({"consume", "t4", "--from", "7"});
    ASSERT_EQ(from.exit_code, 0) << from.err;
    EXPECT_EQ(lines_of(from.out), (std::vector<std::string>{"7", "8", "9"}));
    auto first = run({"consume", "t4", "--group", "g", "-n", "4"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(lines_of(first.out), (std::vector<std::string>{"0", "1", "2", "3"}));
    auto rest = run({"consume", "t4", "--group", "g"});
    ASSERT_EQ(rest.exit_code, 0) << rest.err;
    EXPECT_EQ(lines_of(rest.out), (std::vector<std::string>{"4", "5", "6", "7", "8", "9"}));
    auto none = run({"consume", "t4", "--group", "g"});
    ASSERT_EQ(none.exit_code, 0) << none.err;
    EXPECT_TRUE(none.out.empty()) << none.out;
}

TEST_F(esctl, bench_creates_its_topic_with_the_storage_asked_for) {
    auto b = run({"bench", "--topic", "bd", "--storage", "durable", "--acks", "all", "--events",
                  "500", "--json"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(nlohmann::json::parse(b.out)["events_acked"], 500);
    auto d = run({"topic", "describe", "bd", "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    const auto t = nlohmann::json::parse(d.out);
    EXPECT_EQ(t["storage"], "durable") << d.out;
    EXPECT_EQ(t["partition_detail"][0]["end_offset"], 500) << d.out;
}

TEST_F(esctl, bench_measures_and_prints_json) {
    auto b = run({"bench", "--events", "2000", "--size", "64", "--consumers", "1", "--json"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    auto j = nlohmann::json::parse(b.out);
    EXPECT_EQ(j["events_acked"], 2000);
    EXPECT_EQ(j["consume"]["events"], 2000);
    EXPECT_GT(j["produce"]["events_per_s"].get<double>(), 0);
    EXPECT_EQ(j["produce"]["ack_latency"]["count"], 2000);
    EXPECT_GT(j["produce"]["ack_latency"]["p99_us"].get<double>(), 0);
    EXPECT_GE(j["produce"]["ack_latency"]["max_us"].get<double>(),
              j["produce"]["ack_latency"]["p50_us"].get<double>());
    EXPECT_EQ(j["consume"]["end_to_end_latency"]["count"], 2000);
    // Timing every 7th event: 2000 events give 286 timed acks and receipts, and the rates
    // count the events up to the last one timed.
    auto sampled = run({"bench", "--topic", "sampled", "--events", "2000", "--size", "64",
                        "--consumers", "1", "--latency-every", "7", "--json"});
    ASSERT_EQ(sampled.exit_code, 0) << sampled.err;
    auto sj = nlohmann::json::parse(sampled.out);
    EXPECT_EQ(sj["latency_every"], 7);
    EXPECT_EQ(sj["events_acked"], 2000);
    EXPECT_EQ(sj["consume"]["events"], 2000);
    EXPECT_EQ(sj["produce"]["ack_latency"]["count"], 286);
    EXPECT_EQ(sj["consume"]["end_to_end_latency"]["count"], 286);
    EXPECT_GT(sj["produce"]["events_per_s"].get<double>(), 0);
    EXPECT_GT(sj["consume"]["events_per_s"].get<double>(), 0);
    EXPECT_NE(run({"bench", "--events", "10", "--latency-every", "0"}).exit_code, 0);
    auto text = run({"bench", "--events", "500"});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("p99.9"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("|#"), std::string::npos) << text.out;  // the histogram
}

TEST_F(esctl, help_and_exit_codes) {
    for (std::vector<std::string> cmd : {std::vector<std::string>{"--help"},
                                         {"topic", "--help"},
                                         {"topic", "create", "--help"},
                                         {"topic", "list", "--help"},
                                         {"topic", "describe", "--help"},
                                         {"topic", "delete", "--help"},
                                         {"produce", "--help"},
                                         {"consume", "--help"},
                                         {"bench", "--help"}}) {
        auto r = run_esctl(root(), cmd);
        EXPECT_EQ(r.exit_code, 0) << cmd[0] << ": " << r.err;
        EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
    }
    EXPECT_EQ(run_esctl(root(), {}).exit_code, 2);
    EXPECT_EQ(run_esctl(root(), {"nonsense"}).exit_code, 2);
    EXPECT_EQ(run({"topic", "create"}).exit_code, 2);  // the name is missing
    EXPECT_EQ(run({"produce", "x", "--acks", "7"}).exit_code, 2);
    auto missing = run({"consume", "no-such-topic"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_FALSE(missing.err.empty());
    // ESCTL_SERVER names the server; nothing listening is an error (1) on stderr.
    auto env = run_esctl(root(), {"topic", "list"}, "", {"ESCTL_SERVER=" + server_address()});
    EXPECT_EQ(env.exit_code, 0) << env.err;
    auto down = run_esctl(root(), {"--server", "127.0.0.1:1", "topic", "list"});
    EXPECT_EQ(down.exit_code, 1);
    EXPECT_NE(down.err.find("connection_lost"), std::string::npos) << down.err;
    expect_node_alive();
}

}  // namespace
}  // namespace es::test
