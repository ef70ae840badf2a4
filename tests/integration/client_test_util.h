// Helpers for the client library and esctl integration tests: a node per test with the client's
// connection options pointing at its native port, and esctl run as a child process.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eventstream/eventstream.h"
#include "tests/integration/server_process_fixture.h"

namespace es::test {

class client_fixture : public server_process_fixture {
  protected:
    void SetUp() override {
        server_process_fixture::SetUp();
        node_ = start_ready({}, &ports_);
        ASSERT_NE(node_, nullptr);
    }

    std::string server_address() const { return "127.0.0.1:" + std::to_string(ports_.native); }

    eventstream::connection_options connection() const {
        eventstream::connection_options o;
        o.server = server_address();
        o.reconnect_backoff_initial_ms = 10;
        o.reconnect_backoff_max_ms = 100;
        return o;
    }

    std::unique_ptr<eventstream::admin> admin() {
        auto a = eventstream::admin::connect(connection());
        EXPECT_TRUE(a) << a.err().to_string();
        return a ? std::move(*a) : nullptr;
    }

    void create_topic(const std::string& name, uint32_t partitions,
                      eventstream::storage_kind storage = eventstream::storage_kind::memory) {
        eventstream::topic_config c;
        c.name = name;
        c.partitions = partitions;
        c.storage = storage;
        auto t = admin()->create_topic(c);
        ASSERT_TRUE(t) << t.err().to_string();
    }

    // The node is still up and answers.
    void expect_node_alive() {
        ASSERT_TRUE(node_->running()) << node_->log();
        auto a = eventstream::admin::connect(connection());
        ASSERT_TRUE(a) << a.err().to_string();
        EXPECT_TRUE((*a)->list_topics());
    }

    server_process* node_ = nullptr;
    server::ports_record ports_;
};

// How a child process ended and what it wrote.
struct command_output {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs esctl (ES_ESCTL_BINARY) with `args`, `stdin_text` on its stdin and ESCTL_SERVER unset
// unless given in `env` ("NAME=value" entries); files for the streams go under `dir`.
command_output run_esctl(const std::string& dir, const std::vector<std::string>& args,
                         const std::string& stdin_text = "",
                         const std::vector<std::string>& env = {});

}  // namespace es::test
