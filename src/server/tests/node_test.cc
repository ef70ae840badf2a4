// Tests of node in-process: start with ports 0 and ports.json, an orderly and idempotent stop,
// and start-up failures that leave nothing behind.
#include "server/node.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/engine.h"
#include "server/ports_file.h"
#include "server/tests/server_test_util.h"

namespace es::server {
namespace {

node_config test_config(const std::string& data_dir) {
    node_config c;
    c.data_dir = data_dir;
    c.http_port = c.grpc_port = c.native_port = c.cluster_port = 0;
    c.workers = 1;
    c.pin_workers = false;
    return c;
}

TEST(node_test, starts_writes_ports_and_stops) {
    testing::temp_dir dir;
    node n(test_config(dir.path()), /*handle_signals=*/false);
    EXPECT_EQ(n.state(), node_state::created);
    ASSERT_TRUE(n.start());
    EXPECT_EQ(n.state(), node_state::running);
    EXPECT_EQ(n.engine().worker_count(), 1u);

    const node_ports p = n.ports();
    EXPECT_NE(p.http, 0);
    EXPECT_NE(p.grpc, 0);
    EXPECT_NE(p.native, 0);
    EXPECT_NE(p.cluster, 0);
    auto record = read_ports_file(dir.path());
    ASSERT_TRUE(record) << record.err().message;
    EXPECT_EQ(record->http, p.http);
    EXPECT_EQ(record->cluster, p.cluster);
    EXPECT_EQ(record->pid, ::getpid());

    n.request_stop();
    n.wait_for_stop_request();  // returns at once: a stop was requested
    n.stop();
    EXPECT_EQ(n.state(), node_state::stopped);
    EXPECT_FALSE(std::filesystem::exists(ports_file_path(dir.path())));
    n.stop();  // idempotent
}

TEST(node_test, data_dir_is_free_again_after_stop) {
    testing::temp_dir dir;
    {
        node a(test_config(dir.path()), false);
        ASSERT_TRUE(a.start());
        node b(test_config(dir.path()), false);
        auto s = b.start();
        ASSERT_FALSE(s);
        EXPECT_NE(s.err().message.find("is in use"), std::string::npos);
        EXPECT_EQ(b.state(), node_state::stopped);
        // The failed node did not remove the running node's ports.json.
        EXPECT_TRUE(std::filesystem::exists(ports_file_path(dir.path())));
    }
    node c(test_config(dir.path()), false);
    EXPECT_TRUE(c.start());
}

TEST(node_test, peers_are_refused) {
    testing::temp_dir dir;
    auto config = test_config(dir.path());
    config.peers.push_back({2, "127.0.0.1", 7072});
    node n(config, false);
    auto s = n.start();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::not_supported);
    EXPECT_NE(s.err().message.find("clustering is not built yet"), std::string::npos);
    EXPECT_EQ(n.state(), node_state::stopped);
}

TEST(node_test, unresolvable_bind_address_is_refused) {
    testing::temp_dir dir;
    auto config = test_config(dir.path());
    config.bind = "no-such-host.invalid";
    node n(config, false);
    auto s = n.start();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().message.rfind("bind: cannot resolve 'no-such-host.invalid'", 0), 0u)
        << s.err().message;
    EXPECT_FALSE(std::filesystem::exists(ports_file_path(dir.path())));
}

TEST(node_test, destructor_stops_a_running_node) {
    testing::temp_dir dir;
    {
        node n(test_config(dir.path()), false);
        ASSERT_TRUE(n.start());
    }
    EXPECT_FALSE(std::filesystem::exists(ports_file_path(dir.path())));
}

}  // namespace
}  // namespace es::server
