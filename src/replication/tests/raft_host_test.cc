// raft_host end to end: several hosts in one process, real libuv loops, real loopback TCP and
// real raft_uv files in a fresh directory per test. Every wait polls against a deadline.
#include "replication/raft_host.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "replication/raft_preamble.h"

namespace es::replication {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto k_deadline = 20s;

// A state machine that records every command in order. Its snapshot is the whole list, so a
// member that restored one ends with the same list as the others. The command "refuse" is
// committed but answered with an error, to show that apply's status reaches the proposer.
class recording_machine : public state_machine {
  public:
    status apply(uint64_t index, std::span<const std::byte> command) override {
        std::lock_guard lock(mutex_);
        std::string text(reinterpret_cast<const char*>(command.data()), command.size());
        EXPECT_GT(index, last_index_) << "indexes must grow";
        last_index_ = index;
        commands_.push_back(text);
        if (text == "refuse") return make_error(errc::invalid_argument, "refused by the machine");
        return {};
    }

    result<std::vector<std::byte>> snapshot() override {
        std::lock_guard lock(mutex_);
        std::string out;
        for (const std::string& c : commands_) out += c + '\n';
        ++snapshots_;
        const auto* p = reinterpret_cast<const std::byte*>(out.data());
        return std::vector<std::byte>(p, p + out.size());
    }

    status restore(std::span<const std::byte> snapshot) override {
        std::lock_guard lock(mutex_);
        std::string in(reinterpret_cast<const char*>(snapshot.data()), snapshot.size());
        commands_.clear();
        size_t at = 0;
        while (at < in.size()) {
            size_t end = in.find('\n', at);
            commands_.push_back(in.substr(at, end - at));
            at = end + 1;
        }
        restored_sizes_.push_back(commands_.size());
        return {};
    }

    std::vector<std::string> commands() const {
        std::lock_guard lock(mutex_);
        return commands_;
    }
    std::vector<size_t> restored_sizes() const {
        std::lock_guard lock(mutex_);
        return restored_sizes_;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> commands_;
    std::vector<size_t> restored_sizes_;
    uint64_t last_index_ = 0;
    int snapshots_ = 0;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = k_deadline) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

std::vector<std::byte> bytes_of(const std::string& s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return {p, p + s.size()};
}

// "c<i>" (appended, not concatenated: GCC 12 warns falsely on "c" + std::to_string(i)).
std::string numbered(size_t i) {
    std::string s = "c";
    s += std::to_string(i);
    return s;
}

struct proposal {
    status outcome;
    uint64_t index = 0;
};

proposal propose_and_wait(raft_group& group, const std::string& command) {
    auto promise = std::make_shared<std::promise<proposal>>();
    auto done = promise->get_future();
    group.propose(bytes_of(command), [promise](status s, uint64_t index) {
        promise->set_value(proposal{std::move(s), index});
    });
    if (done.wait_for(k_deadline) != std::future_status::ready) {
        return {make_error(errc::timed_out, "propose did not complete"), 0};
    }
    return done.get();
}

struct node {
    uint64_t id = 0;
    uint16_t port = 0;
    std::string dir;
    std::unique_ptr<raft_host> host;
    std::map<uint64_t, std::shared_ptr<raft_group>> groups;
    std::map<uint64_t, std::shared_ptr<recording_machine>> machines;
};

class raft_host_test : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/es-raft-host-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        root_ = pattern;
    }

    void TearDown() override {
        for (auto& n : nodes_) n.host.reset();
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    // Starts `count` hosts on ports the kernel picks.
    void start_nodes(int count, uint32_t loops = 2) {
        for (int i = 0; i < count; ++i) {
            node n;
            n.id = static_cast<uint64_t>(i + 1);
            n.dir = root_ + "/node" + std::to_string(n.id);
            auto host = raft_host::start({n.id, "127.0.0.1:0", n.dir, loops});
            ASSERT_TRUE(host) << host.err().message;
            n.host = std::move(host).value();
            n.port = n.host->port();
            ASSERT_NE(n.port, 0);
            nodes_.push_back(std::move(n));
        }
    }

    // Starts node 1 alone (one loop thread) in <root>/solo: a group with it as only voter.
    void start_solo() {
        node n;
        n.id = 1;
        n.dir = root_ + "/solo";
        auto host = raft_host::start({1, "127.0.0.1:0", n.dir, 1});
        ASSERT_TRUE(host) << host.err().message;
        n.host = std::move(host).value();
        n.port = n.host->port();
        nodes_.push_back(std::move(n));
    }

    // Restarts a stopped node on its old port and directory.
    void restart(node& n, uint32_t loops = 2) {
        ASSERT_FALSE(n.host);
        auto host = raft_host::start({n.id, "127.0.0.1:" + std::to_string(n.port), n.dir, loops});
        ASSERT_TRUE(host) << host.err().message;
        n.host = std::move(host).value();
        EXPECT_EQ(n.host->port(), n.port);
    }

    void stop(node& n) {
        n.groups.clear();
        n.host.reset();
    }

    std::vector<member> voters() const {
        std::vector<member> all;
        for (const node& n : nodes_) all.push_back({n.id, "127.0.0.1:" + std::to_string(n.port)});
        return all;
    }

    group_options options_for(uint64_t group_id) {
        group_options o;
        o.group_id = group_id;
        o.voters = voters();
        o.snapshot_threshold = snapshot_threshold_;
        o.snapshot_trailing = snapshot_trailing_;
        return o;
    }

    void open(node& n, uint64_t group_id) {
        auto machine = std::make_shared<recording_machine>();
        auto group = n.host->open_group(options_for(group_id), machine);
        ASSERT_TRUE(group) << group.err().message;
        n.groups[group_id] = std::move(group).value();
        n.machines[group_id] = machine;
    }

    // The live node every live member agrees leads `group_id`, once there is one.
    node* agreed_leader(uint64_t group_id) {
        node* leader = nullptr;
        eventually([&] {
            leader = nullptr;
            for (node& n : nodes_) {
                if (n.host && n.groups.count(group_id) &&
                    n.groups[group_id]->view().self == role::leader) {
                    leader = &n;
                }
            }
            if (leader == nullptr) return false;
            for (node& n : nodes_) {
                if (!n.host || !n.groups.count(group_id)) continue;
                group_view v = n.groups[group_id]->view();
                if (!v.leader || v.leader->id != leader->id) return false;
            }
            return true;
        });
        return leader;
    }

    // Proposes on whoever leads, again after a leader change, until the command is applied.
    proposal propose_on_leader(uint64_t group_id, const std::string& command) {
        proposal last{make_error(errc::unavailable, "no leader found"), 0};
        const auto until = std::chrono::steady_clock::now() + k_deadline;
        while (std::chrono::steady_clock::now() < until) {
            node* leader = agreed_leader(group_id);
            if (leader == nullptr) continue;
            last = propose_and_wait(*leader->groups[group_id], command);
            if (last.outcome || last.outcome.err().code == errc::invalid_argument) return last;
            std::this_thread::sleep_for(50ms);
        }
        return last;
    }

    bool all_equal(uint64_t group_id, size_t commands,
                   std::chrono::milliseconds within = k_deadline) {
        return eventually(
            [&] {
                std::vector<std::string> first;
                bool have = false;
                for (node& n : nodes_) {
                    if (!n.host) continue;
                    std::vector<std::string> c = n.machines[group_id]->commands();
                    if (c.size() != commands) return false;
                    if (have && c != first) return false;
                    first = c;
                    have = true;
                }
                return have;
            },
            within);
    }

    std::string debug(uint64_t group_id) {
        std::string out;
        for (node& n : nodes_) {
            if (!n.host) continue;
            group_view v = n.groups[group_id]->view();
            out += "node " + std::to_string(n.id) + " " + role_name(v.self) + " term " +
                   std::to_string(v.term) + " commit " + std::to_string(v.commit_index) +
                   " applied " + std::to_string(v.last_applied) + " commands " +
                   std::to_string(n.machines[group_id]->commands().size()) + " restores " +
                   std::to_string(n.machines[group_id]->restored_sizes().size()) + "\n";
        }
        return out;
    }

    std::string root_;
    std::vector<node> nodes_;
    uint32_t snapshot_threshold_ = 8192;
    uint32_t snapshot_trailing_ = 2048;
};

// Groups 0 and 7 on three hosts with two loops each: the listener lives on loop 0 and group 7 on
// loop 1, so every connection of group 7 is handed over between loops.
TEST_F(raft_host_test, elects_leader_and_applies_in_the_same_order_everywhere) {
    start_nodes(3);
    for (node& n : nodes_) {
        open(n, 0);
        open(n, 7);
    }
    for (uint64_t g : {0u, 7u}) {
        node* leader = agreed_leader(g);
        ASSERT_NE(leader, nullptr) << "no leader in group " << g;

        uint64_t last_index = 0;
        for (int i = 0; i < 20; ++i) {
            proposal p = propose_on_leader(g, "g" + std::to_string(g) + "-c" + std::to_string(i));
            ASSERT_TRUE(p.outcome) << p.outcome.err().message;
            EXPECT_GT(p.index, last_index);
            last_index = p.index;
        }
        // The machine's answer travels back to the proposer; the command is still committed.
        proposal refused = propose_on_leader(g, "refuse");
        ASSERT_FALSE(refused.outcome);
        EXPECT_EQ(refused.outcome.err().code, errc::invalid_argument);
        EXPECT_EQ(refused.outcome.err().message, "refused by the machine");
        ASSERT_TRUE(all_equal(g, 21));

        std::vector<std::string> expected;
        for (int i = 0; i < 20; ++i)
            expected.push_back("g" + std::to_string(g) + "-c" + std::to_string(i));
        expected.push_back("refuse");
        EXPECT_EQ(nodes_[0].machines[g]->commands(), expected);

        leader = agreed_leader(g);
        ASSERT_NE(leader, nullptr);
        for (node& n : nodes_) {
            if (&n == leader) continue;
            proposal p = propose_and_wait(*n.groups[g], "on a follower");
            ASSERT_FALSE(p.outcome);
            EXPECT_EQ(p.outcome.err().code, errc::not_leader);
            const std::string named = "leader is node " + std::to_string(leader->id) +
                                      " at 127.0.0.1:" + std::to_string(leader->port);
            EXPECT_NE(p.outcome.err().message.find(named), std::string::npos)
                << p.outcome.err().message;
        }
        // Barrier on the leader succeeds, on a follower fails with not_leader.
        std::promise<status> barrier;
        leader->groups[g]->barrier([&](status s) { barrier.set_value(std::move(s)); });
        auto barrier_done = barrier.get_future();
        ASSERT_EQ(barrier_done.wait_for(k_deadline), std::future_status::ready);
        EXPECT_TRUE(barrier_done.get());
    }
}

TEST_F(raft_host_test, on_change_reports_leadership_and_transfer_moves_it) {
    start_nodes(3);
    std::atomic<int> became_leader{0};
    for (node& n : nodes_) {
        auto machine = std::make_shared<recording_machine>();
        group_options o = options_for(3);
        o.on_change = [&](const group_view& v) {
            if (v.self == role::leader) ++became_leader;
        };
        auto group = n.host->open_group(o, machine);
        ASSERT_TRUE(group) << group.err().message;
        n.groups[3] = std::move(group).value();
        n.machines[3] = machine;
    }
    node* leader = agreed_leader(3);
    ASSERT_NE(leader, nullptr);
    EXPECT_TRUE(eventually([&] { return became_leader.load() >= 1; }));

    node* target = leader == &nodes_[0] ? &nodes_[1] : &nodes_[0];
    std::promise<status> moved;
    leader->groups[3]->transfer_leadership(target->id,
                                           [&](status s) { moved.set_value(std::move(s)); });
    auto moved_done = moved.get_future();
    ASSERT_EQ(moved_done.wait_for(k_deadline), std::future_status::ready);
    status result = moved_done.get();
    ASSERT_TRUE(result) << result.err().message;
    EXPECT_TRUE(eventually([&] { return target->groups[3]->view().self == role::leader; }));
}

TEST_F(raft_host_test, new_leader_after_the_leader_dies_and_restarted_node_replays) {
    start_nodes(3);
    for (node& n : nodes_) open(n, 0);
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(propose_on_leader(0, "before-" + std::to_string(i)).outcome);
    ASSERT_TRUE(all_equal(0, 5));

    node* old_leader = agreed_leader(0);
    ASSERT_NE(old_leader, nullptr);
    const uint64_t old_id = old_leader->id;
    stop(*old_leader);

    node* new_leader = agreed_leader(0);
    ASSERT_NE(new_leader, nullptr);
    EXPECT_NE(new_leader->id, old_id);
    for (int i = 0; i < 5; ++i) {
        proposal p = propose_on_leader(0, "after-" + std::to_string(i));
        ASSERT_TRUE(p.outcome) << p.outcome.err().message;
    }
    ASSERT_TRUE(all_equal(0, 10));

    // Back on the same directory with an empty machine: libraft replays its log into it and
    // the node catches up with what it missed.
    node& back = *old_leader;
    restart(back);
    open(back, 0);
    ASSERT_TRUE(all_equal(0, 10));
    EXPECT_TRUE(back.machines[0]->restored_sizes().empty());
    EXPECT_TRUE(propose_on_leader(0, "last").outcome);
    ASSERT_TRUE(all_equal(0, 11));
}

TEST_F(raft_host_test, lagging_follower_gets_a_snapshot_then_later_commands) {
    snapshot_threshold_ = 16;
    snapshot_trailing_ = 8;
    start_nodes(3);
    for (node& n : nodes_) open(n, 0);
    ASSERT_TRUE(propose_on_leader(0, "first").outcome);
    ASSERT_TRUE(all_equal(0, 1));

    node* leader = agreed_leader(0);
    ASSERT_NE(leader, nullptr);
    node& lagging = leader == &nodes_[2] ? nodes_[1] : nodes_[2];
    stop(lagging);
    // Down for longer than raft_uv's reconnect delay on both sides of the commands: messages for
    // a peer wait in raft_uv until a connect attempt fails, and a node back before that would get
    // every command from them instead of needing a snapshot.
    std::this_thread::sleep_for(1s);
    for (int i = 0; i < 60; ++i) {
        proposal p = propose_on_leader(0, "c" + std::to_string(i));
        ASSERT_TRUE(p.outcome) << p.outcome.err().message;
    }
    ASSERT_TRUE(all_equal(0, 61));
    std::this_thread::sleep_for(1s);

    restart(lagging);
    open(lagging, 0);
    // Longer than libraft's install-snapshot timeout (30 s), after which a leader whose snapshot
    // install did not complete sends it again. Seen once in CI, under ASan with another test
    // running: the follower stayed at its first install for the 20 s wait (not reproduced in
    // 34 runs since, alone or under CPU and disk load; the cause is not confirmed).
    ASSERT_TRUE(all_equal(0, 61, 45s)) << debug(0);
    // The leader's log no longer reaches back to what the follower had, so the follower got a
    // snapshot (holding far more than its own single command), then the entries after it.
    std::vector<size_t> restored = lagging.machines[0]->restored_sizes();
    ASSERT_FALSE(restored.empty());
    EXPECT_GT(restored.back(), 1u);
    EXPECT_LT(restored.back(), 61u + 1);
    EXPECT_TRUE(propose_on_leader(0, "after-snapshot").outcome);
    ASSERT_TRUE(all_equal(0, 62));
}

// Writes `bytes` to the cluster port and reports whether the host closed the connection.
bool host_closes_after(uint16_t port, const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    bool closed = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size())) {
        char c;
        ssize_t n = ::recv(fd, &c, 1, 0);
        closed = n == 0 || (n < 0 && errno == ECONNRESET);
    }
    ::close(fd);
    return closed;
}

TEST_F(raft_host_test, bad_preamble_is_closed_and_the_host_keeps_working) {
    start_nodes(3);
    for (node& n : nodes_) open(n, 0);
    ASSERT_NE(agreed_leader(0), nullptr);

    EXPECT_TRUE(host_closes_after(nodes_[0].port, std::string(40, 'x')));  // bad magic
    auto text = [](const std::vector<std::byte>& b) {
        return std::string(reinterpret_cast<const char*>(b.data()), b.size());
    };
    // Well formed, but for a group this node does not have.
    EXPECT_TRUE(host_closes_after(nodes_[0].port, text(encode_preamble({0, 99, 2, "a:1"}))));
    // For a group it has, from a node of another cluster (another member list): refused
    // before any group sees it, requests too.
    const std::string from_node_2 = "127.0.0.1:" + std::to_string(nodes_[1].port);
    EXPECT_TRUE(host_closes_after(nodes_[0].port, text(encode_preamble({77, 0, 2, from_node_2}))));
    EXPECT_TRUE(host_closes_after(nodes_[0].port,
                                  text(encode_preamble({77, k_rpc_group_id, 2, from_node_2}))));

    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(propose_on_leader(0, "still-" + std::to_string(i)).outcome);
    ASSERT_TRUE(all_equal(0, 3));
}

// A node resets its incoming Raft connections when it stops (and, the option being the
// socket's, when its process dies), so that a peer's next write fails and raft_uv there connects
// anew and sends again (raft_log_io), instead of writing into a connection nobody reads.
TEST_F(raft_host_test, a_stopped_node_resets_its_incoming_raft_connections) {
    start_nodes(3);
    for (node& n : nodes_) open(n, 0);
    ASSERT_NE(agreed_leader(0), nullptr);

    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(nodes_[0].port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    // As node 2 dials node 1 for group 0: the group's raft_uv gets the connection.
    const auto hello =
        encode_preamble({0, 0, nodes_[1].id, "127.0.0.1:" + std::to_string(nodes_[1].port)});
    ASSERT_EQ(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), ssize_t(hello.size()));
    std::byte ack{};
    ASSERT_EQ(::recv(fd, &ack, 1, 0), 1);
    EXPECT_EQ(ack, k_preamble_ack);

    stop(nodes_[0]);
    char c;
    const ssize_t n = ::recv(fd, &c, 1, 0);
    const int err = errno;
    EXPECT_EQ(n, -1) << "the connection ended with a close, not a reset";
    EXPECT_EQ(err, ECONNRESET);
    ::close(fd);
}

// Proposals made without waiting queue up behind the Raft log's write in progress and go to
// disk together (raft_log_io); snapshots are taken in between. Closing the group while some are
// still being written answers every one of them, and the group reopened on its directory holds
// every acknowledged command, in order.
TEST_F(raft_host_test,
       a_group_closed_with_writes_in_flight_answers_all_and_keeps_the_acknowledged) {
    snapshot_threshold_ = 32;
    snapshot_trailing_ = 8;
    start_solo();
    ASSERT_EQ(nodes_.size(), 1u);
    node& solo = nodes_[0];
    open(solo, 7);
    ASSERT_TRUE(propose_on_leader(7, "first").outcome);

    struct answers {
        std::mutex mutex;
        std::condition_variable changed;
        size_t count = 0;
        std::vector<int> acknowledged;  // in the order the answers came
    };
    auto got = std::make_shared<answers>();
    auto propose_many = [&](int from, int to) {
        for (int i = from; i < to; ++i) {
            solo.groups[7]->propose(bytes_of(numbered(i)), [got, i](status s, uint64_t) {
                std::lock_guard lock(got->mutex);
                ++got->count;
                if (s) got->acknowledged.push_back(i);
                got->changed.notify_all();
            });
        }
    };
    auto wait_for_answers = [&](size_t count) {
        std::unique_lock lock(got->mutex);
        return got->changed.wait_for(lock, k_deadline, [&] { return got->count == count; });
    };

    propose_many(0, 400);
    ASSERT_TRUE(wait_for_answers(400));
    {
        std::lock_guard lock(got->mutex);
        ASSERT_EQ(got->acknowledged.size(), 400u);
        for (int i = 0; i < 400; ++i) ASSERT_EQ(got->acknowledged[i], i);
    }
    // A snapshot is taken while the commands are applied, and stored after them.
    const fs::path dir = fs::path(solo.dir) / "g7";
    auto count_files = [&](const std::string& prefix) {
        size_t n = 0;
        for (const auto& f : fs::directory_iterator(dir)) {
            const std::string name = f.path().filename().string();
            n += name.starts_with(prefix) && !name.ends_with(".tmp");
        }
        return n;
    };
    ASSERT_TRUE(eventually([&] { return count_files("raft-snapshot-") >= 1; }));
    EXPECT_GE(count_files("raft-log-"), 1u);

    propose_many(400, 800);
    status closed = solo.host->close_group(7, false);
    ASSERT_TRUE(closed) << closed.err().message;
    ASSERT_TRUE(wait_for_answers(800));
    std::vector<int> acknowledged;
    {
        std::lock_guard lock(got->mutex);
        acknowledged = got->acknowledged;
    }
    ASSERT_GE(acknowledged.size(), 400u);
    for (size_t i = 0; i < acknowledged.size(); ++i) ASSERT_EQ(acknowledged[i], int(i));

    open(solo, 7);
    auto& machine = *solo.machines[7];
    ASSERT_TRUE(eventually([&] { return machine.commands().size() >= 1 + acknowledged.size(); }))
        << machine.commands().size() << " commands after the reopen";
    // Replayed in order: "first", then c0, c1, ... at least up to the last acknowledged one.
    const std::vector<std::string> commands = machine.commands();
    ASSERT_EQ(commands[0], "first");
    for (size_t i = 1; i < commands.size(); ++i) {
        ASSERT_EQ(commands[i], numbered(i - 1)) << "command " << i;
    }
}

// A state machine whose apply holds its loop thread until released, as a snapshot install
// that fetches the events it lacks does.
class holding_machine : public recording_machine {
  public:
    status apply(uint64_t index, std::span<const std::byte> command) override {
        if (!entered_once_.exchange(true)) entered_.set_value();
        (void)released_.wait_for(30s);
        return recording_machine::apply(index, command);
    }
    void wait_entered() {
        ASSERT_EQ(entered_future_.wait_for(k_deadline), std::future_status::ready);
    }
    void release() { release_.set_value(); }

  private:
    std::atomic<bool> entered_once_{false};
    std::promise<void> entered_;
    std::future<void> entered_future_ = entered_.get_future();
    std::promise<void> release_;
    std::shared_future<void> released_ = release_.get_future().share();
};

TEST_F(raft_host_test, a_group_holding_its_loop_does_not_stall_group_0) {
    start_solo();  // one loop for the groups besides group 0
    node& solo = nodes_[0];
    open(solo, 0);
    auto holding = std::make_shared<holding_machine>();
    auto g2 = solo.host->open_group(options_for(2), holding);
    ASSERT_TRUE(g2) << g2.err().message;
    ASSERT_TRUE(propose_on_leader(0, "first").outcome);
    ASSERT_TRUE(eventually([&] { return (*g2)->view().self == role::leader; }));
    auto held = std::make_shared<std::promise<status>>();
    (*g2)->propose(bytes_of("hold"), [held](status s, uint64_t) { held->set_value(s); });
    holding->wait_entered();
    // Group 2's loop is held; group 0 (the controller, in a cluster) still commits, on its own.
    const proposal meanwhile = propose_and_wait(*solo.groups[0], "meanwhile");
    holding->release();
    EXPECT_TRUE(meanwhile.outcome) << meanwhile.outcome.err().message;
    auto done = held->get_future();
    ASSERT_EQ(done.wait_for(k_deadline), std::future_status::ready);
    EXPECT_TRUE(done.get());
    EXPECT_EQ(solo.machines[0]->commands(), (std::vector<std::string>{"first", "meanwhile"}));
}

TEST_F(raft_host_test, single_node_group_close_with_erase_removes_its_directory) {
    start_solo();
    ASSERT_EQ(nodes_.size(), 1u);
    node& solo = nodes_[0];
    open(solo, 5);

    auto again = solo.host->open_group(options_for(5), std::make_shared<recording_machine>());
    ASSERT_FALSE(again);
    EXPECT_EQ(again.err().code, errc::already_exists);

    ASSERT_TRUE(propose_on_leader(5, "alone").outcome);
    const fs::path dir = fs::path(solo.dir) / "g5";
    EXPECT_TRUE(fs::exists(dir / "raft-vote-1"));
    EXPECT_TRUE(fs::exists(dir / "raft-log-00000000000000000001"));

    status closed = solo.host->close_group(5, true);
    ASSERT_TRUE(closed) << closed.err().message;
    EXPECT_FALSE(fs::exists(dir));
    // The handle outlives the group: it now answers unavailable.
    proposal late = propose_and_wait(*solo.groups[5], "late");
    ASSERT_FALSE(late.outcome);
    EXPECT_EQ(late.outcome.err().code, errc::unavailable);

    status missing = solo.host->close_group(5, false);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.err().code, errc::not_found);

    // A group closed and kept, whose topic is deleted later (this node was down then): erase
    // removes its files without it being open. A group that never was: nothing to remove.
    open(solo, 8);
    ASSERT_TRUE(propose_on_leader(8, "kept").outcome);
    ASSERT_TRUE(solo.host->close_group(8, false));
    const fs::path kept = fs::path(solo.dir) / "g8";
    EXPECT_TRUE(fs::exists(kept / "raft-vote-1"));
    closed = solo.host->close_group(8, true);
    ASSERT_TRUE(closed) << closed.err().message;
    EXPECT_FALSE(fs::exists(kept));
    EXPECT_TRUE(solo.host->close_group(9, true));

    // A new group must name this node among its voters.
    group_options stranger;
    stranger.group_id = 6;
    stranger.voters = {{9, "127.0.0.1:1"}};
    auto refused = solo.host->open_group(stranger, std::make_shared<recording_machine>());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.err().code, errc::invalid_argument);
}

}  // namespace
}  // namespace es::replication
