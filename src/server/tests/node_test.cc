// Tests of node in-process: start with ports 0 and ports.json, an orderly and idempotent stop,
// and start-up failures that leave nothing behind.
#include "server/node.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

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

// A port free a moment ago (the cluster port must be known before the node binds it).
uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

TEST(node_test, a_one_node_cluster_goes_through_raft) {
    testing::temp_dir dir;
    auto config = test_config(dir.path());
    config.cluster_port = free_port();
    config.peers.push_back({1, "127.0.0.1", config.cluster_port});
    config.raft_election_timeout_ms = 200;
    config.raft_heartbeat_ms = 20;
    node n(config, false);
    ASSERT_TRUE(n.start());
    EXPECT_EQ(n.ports().cluster, config.cluster_port);
    core::engine& e = n.engine();

    // Topic admin goes through the controller, which elects itself; until it has, the
    // answer is unavailable.
    core::topic_config t;
    t.name = "replicated";
    t.storage = core::storage_mode::durable;
    result<core::topic_info> created = make_error(errc::unavailable, "not tried");
    for (int i = 0; i < 200 && !created; ++i) {
        created = e.create_topic(t);
        if (!created && created.err().code != errc::unavailable) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(created) << created.err().message;
    EXPECT_EQ(created->id, 1u);

    // Placement counts the registered nodes; memory topics are not replicated.
    t.name = "wide";
    t.replication_factor = 2;
    auto wide = e.create_topic(t);
    ASSERT_FALSE(wide);
    EXPECT_EQ(wide.err().code, errc::invalid_argument);
    EXPECT_NE(wide.err().message.find("1 node is registered"), std::string::npos)
        << wide.err().message;
    t.name = "volatile";
    t.replication_factor = 1;
    t.storage = core::storage_mode::memory;
    auto memory = e.create_topic(t);
    ASSERT_FALSE(memory);
    EXPECT_EQ(memory.err().code, errc::invalid_argument);

    // Once its group has elected this node, the partition takes publishes with acks.
    auto topic = e.find_topic("replicated");
    ASSERT_TRUE(topic);
    const std::string payload = "through raft";
    const core::event_in ev = core::event_in::without_key(payload);
    result<core::event_record> read = make_error(errc::not_found, "not published");
    for (int i = 0; i < 200 && !read; ++i) {
        if (e.publish(*topic, std::span(&ev, 1))) {
            for (int j = 0; j < 100 && !read; ++j) {
                read = e.read_event(*topic, 0, 0);
                if (!read) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ASSERT_TRUE(read) << read.err().message;
    EXPECT_EQ(read->payload, payload);

    // Deleting goes through the controller too.
    ASSERT_TRUE(e.delete_topic("replicated"));
    EXPECT_FALSE(e.find_topic("replicated"));
    n.stop();
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
