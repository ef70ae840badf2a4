// Tests of load_config: defaults, each source (YAML file, environment, flags), their precedence,
// and that every bad value is refused with a message naming the field and its source.
#include "common/config.h"
#include "common/socket_buffers.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace es {
namespace {

class config_test : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "es-config-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string yaml(const std::string& name, const std::string& text) {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }

    // An environment made of `env_` only, so that the test's own environment plays no part.
    env_reader env() const {
        return [vars = env_](const std::string& name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
    }

    result<node_config> load() { return load_config(flags_, env()); }

    std::string load_error() {
        auto c = load();
        EXPECT_FALSE(c) << "expected an error";
        return c ? std::string() : c.err().message;
    }

    std::string dir_;
    flag_values flags_;
    std::map<std::string, std::string> env_;
};

TEST_F(config_test, no_sources_gives_the_defaults) {
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    const node_config d;
    EXPECT_EQ(c->data_dir, "./data");
    EXPECT_EQ(c->bind, "127.0.0.1");
    EXPECT_EQ(c->http_port, 8080);
    EXPECT_EQ(c->grpc_port, 8081);
    EXPECT_EQ(c->native_port, 7070);
    EXPECT_EQ(c->cluster_port, 7071);
    EXPECT_EQ(c->node_id, 1u);
    EXPECT_TRUE(c->peers.empty());
    EXPECT_EQ(c->log_format, "text");
    EXPECT_EQ(c->log_level, "info");
    EXPECT_EQ(c->workers, d.workers);
    EXPECT_EQ(c->pin_workers, d.pin_workers);
    EXPECT_EQ(c->ingest_queue_bytes, d.ingest_queue_bytes);
    EXPECT_EQ(c->segment_pool_bytes, 256u << 20);
    EXPECT_FALSE(c->segment_pool_pretouch);
    EXPECT_TRUE(c->config_file.empty());
}

TEST_F(config_test, names_of_flags_and_variables) {
    EXPECT_EQ(flag_name("http_port"), "--http-port");
    EXPECT_EQ(flag_name("data_dir"), "--data-dir");
    EXPECT_EQ(env_name("http_port"), "EVENTSTREAM_HTTP_PORT");
    EXPECT_EQ(env_name("log_format"), "EVENTSTREAM_LOG_FORMAT");
}

TEST_F(config_test, every_field_accepts_its_own_default_text) {
    // The table is consistent: what show() prints, parse() takes back unchanged.
    for (const auto& f : config_fields()) {
        node_config c;
        const std::string shown = f.show(c);
        if (f.name == "peers") continue;  // empty by default; the empty list is tested below
        auto s = f.parse(c, shown);
        EXPECT_TRUE(s) << f.name << ": " << (s ? "" : s.err().message);
        EXPECT_EQ(f.show(c), shown) << f.name;
        EXPECT_FALSE(f.help.empty()) << f.name;
    }
}

TEST_F(config_test, a_pretouched_segment_pool_larger_than_half_the_memory_is_refused) {
    flags_ = {{"segment_pool_bytes", std::to_string(uint64_t{1} << 40)},
              {"segment_pool_pretouch", "true"}};
    EXPECT_NE(load_error().find("segment_pool_bytes: 1099511627776 is more than half of this "
                                "machine's memory"),
              std::string::npos);
    flags_["segment_pool_pretouch"] = "false";  // kept only as segments are freed: allowed
    EXPECT_TRUE(load());
}

TEST_F(config_test, flags_set_fields) {
    flags_ = {{"http_port", "0"},          {"node_id", "9"},
              {"data_dir", "/tmp/x"},      {"pin_workers", "off"},
              {"log_format", "json"},      {"workers", "3"},
              {"log_level", "debug"},      {"ingest_queue_bytes", "65536"},
              {"segment_pool_bytes", "0"}, {"segment_pool_pretouch", "yes"}};
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->http_port, 0);
    EXPECT_EQ(c->node_id, 9u);
    EXPECT_EQ(c->data_dir, "/tmp/x");
    EXPECT_FALSE(c->pin_workers);
    EXPECT_EQ(c->log_format, "json");
    EXPECT_EQ(c->workers, 3u);
    EXPECT_EQ(c->log_level, "debug");
    EXPECT_EQ(c->ingest_queue_bytes, 65536u);
    EXPECT_EQ(c->segment_pool_bytes, 0u);
    EXPECT_TRUE(c->segment_pool_pretouch);
}

TEST_F(config_test, environment_sets_fields) {
    env_ = {{"EVENTSTREAM_NATIVE_PORT", "9000"}, {"EVENTSTREAM_BIND", "0.0.0.0"}};
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->native_port, 9000);
    EXPECT_EQ(c->bind, "0.0.0.0");
}

TEST_F(config_test, yaml_file_sets_fields) {
    flags_["config"] = yaml("c.yaml",
                            "http_port: 9100\n"
                            "node_id: 4\n"
                            "pin_workers: false\n"
                            "peers:\n"
                            "  - 2@10.0.0.2:7071\n"
                            "  - 3@10.0.0.3:7071\n");
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->http_port, 9100);
    EXPECT_EQ(c->node_id, 4u);
    EXPECT_FALSE(c->pin_workers);
    ASSERT_EQ(c->peers.size(), 2u);
    EXPECT_EQ(c->peers[1].node_id, 3u);
    EXPECT_EQ(c->peers[1].host, "10.0.0.3");
    EXPECT_EQ(c->peers[1].port, 7071);
    EXPECT_EQ(c->config_file, flags_["config"]);
}

TEST_F(config_test, flag_beats_environment_beats_file) {
    flags_["config"] = yaml("c.yaml", "http_port: 1001\ngrpc_port: 1002\nnative_port: 1003\n");
    env_ = {{"EVENTSTREAM_GRPC_PORT", "2002"}, {"EVENTSTREAM_NATIVE_PORT", "2003"}};
    flags_["native_port"] = "3003";
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->http_port, 1001);    // file only
    EXPECT_EQ(c->grpc_port, 2002);    // env over file
    EXPECT_EQ(c->native_port, 3003);  // flag over both
}

TEST_F(config_test, config_file_from_environment) {
    env_["EVENTSTREAM_CONFIG"] = yaml("env.yaml", "node_id: 5\n");
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->node_id, 5u);
}

TEST_F(config_test, config_flag_beats_config_variable) {
    env_["EVENTSTREAM_CONFIG"] = yaml("env.yaml", "node_id: 5\n");
    flags_["config"] = yaml("flag.yaml", "node_id: 6\n");
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->node_id, 6u);
}

TEST_F(config_test, empty_yaml_file_sets_nothing) {
    flags_["config"] = yaml("empty.yaml", "");
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->http_port, 8080);
}

TEST_F(config_test, unknown_yaml_key_is_refused) {
    flags_["config"] = yaml("typo.yaml", "http_port: 1\nhttp_prot: 2\n");
    const std::string e = load_error();
    EXPECT_NE(e.find("http_prot"), std::string::npos) << e;
    EXPECT_NE(e.find("unknown field"), std::string::npos) << e;
    EXPECT_NE(e.find("typo.yaml"), std::string::npos) << e;
}

TEST_F(config_test, bad_yaml_value_names_the_field) {
    flags_["config"] = yaml("bad.yaml", "grpc_port: 99999\n");
    EXPECT_EQ(load_error(),
              "grpc_port: must be 0..65535, got 99999 (from '" + dir_ + "/bad.yaml')");
}

TEST_F(config_test, missing_config_file_is_refused) {
    flags_["config"] = dir_ + "/nope.yaml";
    const std::string e = load_error();
    EXPECT_NE(e.find("cannot read"), std::string::npos) << e;
    EXPECT_NE(e.find("nope.yaml"), std::string::npos) << e;
}

TEST_F(config_test, yaml_key_that_is_a_list_or_a_map_is_refused) {
    // Found by fuzz/config_fuzz: such a key used to throw out of load_config.
    flags_["config"] = yaml("list_key.yaml", "? [a, b]\n: 1\n");
    EXPECT_NE(load_error().find("not a field name"), std::string::npos);
    flags_["config"] = yaml("map_key.yaml", "{x: 1}: 1\n");
    EXPECT_NE(load_error().find("not a field name"), std::string::npos);
}

TEST_F(config_test, malformed_yaml_is_refused) {
    flags_["config"] = yaml("broken.yaml", "http_port: [1, 2\n");
    EXPECT_NE(load_error().find("not valid YAML"), std::string::npos);
}

TEST_F(config_test, yaml_that_is_not_a_mapping_is_refused) {
    flags_["config"] = yaml("list.yaml", "- 1\n- 2\n");
    EXPECT_NE(load_error().find("must be a mapping"), std::string::npos);
}

TEST_F(config_test, advertise_host_is_a_host_or_an_address_without_a_port) {
    for (const char* good : {"broker-1.example", "10.0.0.7", "::1", "fd00::12"}) {
        flags_["advertise_host"] = good;
        auto c = load();
        ASSERT_TRUE(c) << good << ": " << c.err().message;
        EXPECT_EQ(c->advertise_host, good);
    }
    for (const char* bad : {"broker-1:7070", "[::1]", "a b", "1@host"}) {
        flags_["advertise_host"] = bad;
        EXPECT_NE(load_error().find("advertise_host"), std::string::npos) << bad;
    }
}

TEST_F(config_test, flag_error_names_field_and_flag) {
    flags_["http_port"] = "70000";
    EXPECT_EQ(load_error(), "http_port: must be 0..65535, got 70000 (from --http-port)");
}

TEST_F(config_test, env_error_names_field_and_variable) {
    env_["EVENTSTREAM_LOG_FORMAT"] = "xml";
    EXPECT_EQ(load_error(),
              "log_format: must be text or json, got 'xml' (from EVENTSTREAM_LOG_FORMAT)");
}

TEST_F(config_test, non_numbers_are_refused) {
    flags_["node_id"] = "12abc";
    EXPECT_NE(load_error().find("node_id: expected a whole number, got '12abc'"),
              std::string::npos);
    flags_["node_id"] = "-1";
    EXPECT_NE(load_error().find("node_id: expected a whole number"), std::string::npos);
    flags_["node_id"] = "";
    EXPECT_NE(load_error().find("node_id: expected a whole number"), std::string::npos);
}

TEST_F(config_test, ranges_are_checked) {
    flags_["node_id"] = "0";
    EXPECT_NE(load_error().find("node_id: must be 1.."), std::string::npos);
    flags_.clear();
    flags_["ingest_queue_bytes"] = "1024";
    EXPECT_NE(load_error().find("ingest_queue_bytes: must be 65536.."), std::string::npos);
    flags_.clear();
    flags_["workers"] = "5000";
    EXPECT_NE(load_error().find("workers: must be 0..1024"), std::string::npos);
}

TEST_F(config_test, native_send_buffer_is_256_kib_or_what_is_set_and_zero_leaves_the_kernels) {
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->native_send_buffer_bytes, 256u * 1024);
    EXPECT_EQ(c->native_send_buffer_bytes, k_default_socket_send_buffer_bytes);
    env_["EVENTSTREAM_NATIVE_SEND_BUFFER_BYTES"] = "0";
    c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->native_send_buffer_bytes, 0u);
    flags_["native_send_buffer_bytes"] = "1048576";
    c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->native_send_buffer_bytes, 1u << 20);
    flags_["native_send_buffer_bytes"] = std::to_string((64u << 20) + 1);
    EXPECT_NE(load_error().find("native_send_buffer_bytes: must be 0.."), std::string::npos)
        << load_error();
}

TEST_F(config_test, booleans) {
    for (const char* yes : {"true", "1", "yes", "on"}) {
        flags_["pin_workers"] = yes;
        auto c = load();
        ASSERT_TRUE(c) << yes;
        EXPECT_TRUE(c->pin_workers) << yes;
    }
    for (const char* no : {"false", "0", "no", "off"}) {
        flags_["pin_workers"] = no;
        auto c = load();
        ASSERT_TRUE(c) << no;
        EXPECT_FALSE(c->pin_workers) << no;
    }
    flags_["pin_workers"] = "maybe";
    EXPECT_NE(load_error().find("pin_workers: expected true or false, got 'maybe'"),
              std::string::npos);
}

TEST_F(config_test, log_level_must_be_known) {
    flags_["log_level"] = "verbose";
    EXPECT_NE(load_error().find("log_level: unknown level 'verbose'"), std::string::npos);
}

TEST_F(config_test, empty_paths_are_refused) {
    flags_["data_dir"] = "";
    EXPECT_NE(load_error().find("data_dir: must not be empty"), std::string::npos);
    flags_.clear();
    flags_["bind"] = "";
    EXPECT_NE(load_error().find("bind: must not be empty"), std::string::npos);
}

TEST_F(config_test, peers_are_parsed) {
    flags_["peers"] = "2@a.example:7071,3@10.0.0.3:7072";
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    ASSERT_EQ(c->peers.size(), 2u);
    EXPECT_EQ(c->peers[0].node_id, 2u);
    EXPECT_EQ(c->peers[0].host, "a.example");
    EXPECT_EQ(c->peers[0].port, 7071);
    EXPECT_EQ(c->peers[1].port, 7072);
    const auto& f = *std::find_if(config_fields().begin(), config_fields().end(),
                                  [](const config_field& x) { return x.name == "peers"; });
    EXPECT_EQ(f.show(*c), "2@a.example:7071,3@10.0.0.3:7072");
}

TEST_F(config_test, empty_peers_is_an_empty_list) {
    flags_["peers"] = "";
    auto c = load();
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_TRUE(c->peers.empty());
}

TEST_F(config_test, malformed_peers_are_refused) {
    for (const char* bad :
         {"127.0.0.1:7071", "2@127.0.0.1", "x@h:1", "2@:7071", "2@h:0", "2@h:70000", "2@h:1,"}) {
        flags_["peers"] = bad;
        auto c = load();
        EXPECT_FALSE(c) << "accepted '" << bad << "'";
        if (!c) {
            EXPECT_EQ(c.err().message.rfind("peers: ", 0), 0u) << c.err().message;
        }
    }
}

TEST_F(config_test, duplicate_peer_ids_are_refused) {
    flags_["peers"] = "2@a:1,2@b:2";
    EXPECT_EQ(load_error(), "peers: node id 2 listed twice");
}

TEST_F(config_test, ports_must_differ_unless_zero) {
    flags_ = {{"http_port", "9000"}, {"cluster_port", "9000"}};
    EXPECT_EQ(load_error(), "cluster_port: port 9000 is already used by http_port");
    flags_ = {{"http_port", "0"}, {"grpc_port", "0"}, {"native_port", "0"}, {"cluster_port", "0"}};
    EXPECT_TRUE(load());
}

TEST_F(config_test, raft_segments_are_whole_mebibytes) {
    flags_["raft_segment_bytes"] = "3000000";
    EXPECT_EQ(load_error(), "raft_segment_bytes: 3000000 is not a multiple of 1 MiB");
    flags_["raft_segment_bytes"] = "16777216";
    auto c = load();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->raft_segment_bytes, 16u << 20);
}

TEST_F(config_test, unknown_flag_name_is_refused) {
    flags_["no_such_field"] = "1";
    EXPECT_EQ(load_error(), "unknown option --no-such-field");
}

TEST_F(config_test, error_code_is_config_error) {
    flags_["http_port"] = "x";
    auto c = load();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.err().code, errc::config_error);
}

}  // namespace
}  // namespace es
