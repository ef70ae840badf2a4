// fsm_adapter: what libraft gets back from apply for the machine's answers and for a failure of
// the node's own storage.
#include "replication/fsm_adapter.h"

#include <gtest/gtest.h>

#include <string>

namespace es::replication {
namespace {

// A machine whose apply returns the status named by the command.
class answering_machine : public state_machine {
  public:
    status apply(uint64_t, std::span<const std::byte> command) override {
        const std::string c(reinterpret_cast<const char*>(command.data()), command.size());
        if (c == "refuse") return make_error(errc::invalid_argument, "refused");
        if (c == "disk") return make_error(errc::io_error, "IO error: No space left on device");
        if (c == "slow") return make_error(errc::timed_out, "the store did not answer");
        return {};
    }
    result<std::vector<std::byte>> snapshot() override { return std::vector<std::byte>{}; }
    status restore(std::span<const std::byte>) override { return {}; }
};

class fsm_adapter_test : public ::testing::Test {
  protected:
    void SetUp() override { init_raft_fsm(&fsm_, &machine_); }
    void TearDown() override { close_raft_fsm(&fsm_); }

    // What libraft's apply gets: its return code and the machine's status.
    std::pair<int, status> apply(const std::string& command) {
        struct raft_buffer buf =
            encode_command(std::as_bytes(std::span<const char>(command.data(), command.size())));
        void* result = nullptr;
        const int rv = fsm_.apply(&fsm_, &buf, &result);
        raft_free(buf.base);
        return {rv, result != nullptr ? *static_cast<const status*>(result) : status{}};
    }

    answering_machine machine_;
    struct raft_fsm fsm_ {};
};

TEST_F(fsm_adapter_test, the_machines_answers_go_to_the_proposer_and_the_entry_counts_applied) {
    auto [ok_rv, ok] = apply("fine");
    EXPECT_EQ(ok_rv, 0);
    EXPECT_TRUE(ok);
    auto [refused_rv, refused] = apply("refuse");
    EXPECT_EQ(refused_rv, 0);  // every replica refuses it alike: it is applied, as a refusal
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.err().code, errc::invalid_argument);
}

using fsm_adapter_death_test = fsm_adapter_test;

TEST_F(fsm_adapter_death_test, a_failure_of_the_nodes_storage_stops_the_process) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(apply("disk"), "failed on this node's storage: IO error: No space left");
    EXPECT_DEATH(apply("slow"), "failed on this node's storage: the store did not answer");
}

}  // namespace
}  // namespace es::replication
