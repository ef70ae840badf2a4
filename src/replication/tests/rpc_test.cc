// Node-to-node requests (raft_host::call) end to end: several hosts in one process on loopback,
// sharing the cluster port with Raft groups; plus the request frame reader in every split.
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
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "replication/raft_host.h"
#include "replication/raft_preamble.h"
#include "replication/rpc_frame.h"

namespace es::replication {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto k_deadline = 20s;

std::vector<std::byte> bytes_of(const std::string& s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return {p, p + s.size()};
}

std::string text_of(const std::vector<std::byte>& b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = k_deadline) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

// A gate handlers wait at until the test opens it (or a bound passes, so that no test hangs).
class gate {
  public:
    void wait() {
        std::unique_lock lock(mutex_);
        ++waiting_;
        cv_.wait_for(lock, 30s, [this] { return open_; });
        --waiting_;
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }
    int waiting() {
        std::lock_guard lock(mutex_);
        return waiting_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
    int waiting_ = 0;
};

// A state machine that only counts what it applies (Raft traffic beside the requests).
class counting_machine : public state_machine {
  public:
    status apply(uint64_t, std::span<const std::byte>) override {
        ++applied;
        return {};
    }
    result<std::vector<std::byte>> snapshot() override { return std::vector<std::byte>{}; }
    status restore(std::span<const std::byte>) override { return {}; }
    std::atomic<int> applied{0};
};

// A socket to `port`, with a receive time-out so that no read in a test blocks for long.
int connect_raw(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_bytes(int fd, const void* data, size_t size) {
    return ::send(fd, data, size, MSG_NOSIGNAL) == static_cast<ssize_t>(size);
}

// Opens a request connection by hand: rpc preamble, then the ack. -1 on failure.
int open_raw_rpc(uint16_t port) {
    int fd = connect_raw(port);
    if (fd < 0) return -1;
    std::vector<std::byte> hello = encode_preamble({0, k_rpc_group_id, 9, "127.0.0.1:1"});
    std::byte ack{};
    if (!send_bytes(fd, hello.data(), hello.size()) || ::recv(fd, &ack, 1, 0) != 1 ||
        ack != k_preamble_ack) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// True when the peer closes `fd` (end of stream or reset) before the receive time-out.
bool closed_by_peer(int fd) {
    char buf[256];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
    }
}

class rpc_test : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/es-rpc-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        root_ = pattern;
    }

    void TearDown() override {
        // Handlers held at the gate must go on (and find it still there) for the hosts to stop.
        hold_.open();
        hosts_.clear();
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    raft_host& start_host(host_options o = {}) {
        o.node_id = hosts_.size() + 1;
        o.address = "127.0.0.1:0";
        o.dir = root_ + "/node" + std::to_string(o.node_id);
        auto host = raft_host::start(o);
        EXPECT_TRUE(host) << host.err().message;
        hosts_.push_back(std::move(host).value());
        return *hosts_.back();
    }

    static std::string address_of(const raft_host& h) {
        return "127.0.0.1:" + std::to_string(h.port());
    }

    // Replies "<from node>:<request>"; "fail:<text>" replies not_found with <text>.
    static void echo_handler(raft_host& h) {
        h.set_rpc_handler([](uint64_t from, std::vector<std::byte> request, rpc_reply reply) {
            std::string text = text_of(request);
            if (text.rfind("fail:", 0) == 0) {
                reply(make_error(errc::not_found, text.substr(5)));
                return;
            }
            reply(bytes_of(std::to_string(from) + ":" + text));
        });
    }

    std::string root_;
    gate hold_;  // outlives every host, whose handlers may wait at it
    std::vector<std::unique_ptr<raft_host>> hosts_;
};

TEST_F(rpc_test, echo_between_three_hosts_names_the_caller) {
    for (int i = 0; i < 3; ++i) echo_handler(start_host());
    for (size_t from = 0; from < 3; ++from) {
        const size_t to = (from + 1) % 3;
        for (int i = 0; i < 3; ++i) {  // the second and third reuse the pooled connection
            auto answer = hosts_[from]->call(address_of(*hosts_[to]),
                                             bytes_of("hello " + std::to_string(i)), 5s);
            ASSERT_TRUE(answer) << answer.err().message;
            EXPECT_EQ(text_of(*answer), std::to_string(from + 1) + ":hello " + std::to_string(i));
        }
    }
    // An empty request and an empty reply are fine.
    hosts_[1]->set_rpc_handler(
        [](uint64_t, std::vector<std::byte> request, rpc_reply reply) { reply(request); });
    auto empty = hosts_[0]->call(address_of(*hosts_[1]), {}, 5s);
    ASSERT_TRUE(empty) << empty.err().message;
    EXPECT_TRUE(empty->empty());
}

TEST_F(rpc_test, error_reply_carries_code_and_message) {
    raft_host& a = start_host();
    raft_host& b = start_host();
    echo_handler(b);
    auto answer = a.call(address_of(b), bytes_of("fail:no topic named orders"), 5s);
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.err().code, errc::not_found);
    EXPECT_EQ(answer.err().message, "no topic named orders");
    // The connection carried an error reply and is still good for the next call.
    auto next = a.call(address_of(b), bytes_of("ok"), 5s);
    ASSERT_TRUE(next) << next.err().message;
    EXPECT_EQ(text_of(*next), "1:ok");
}

TEST_F(rpc_test, concurrent_calls_from_eight_threads_each_get_their_own_answer) {
    host_options o;
    o.rpc_threads = 4;
    raft_host& a = start_host();
    raft_host& b = start_host(o);
    echo_handler(b);
    std::atomic<int> wrong{0};
    std::atomic<int> failed{0};
    std::string first_failure;
    std::mutex failure_mutex;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                std::string request = "t" + std::to_string(t) + "-" + std::to_string(i);
                // Now and then a big one, so that requests and replies take several writes.
                if (i % 50 == 7) request += std::string(300'000, char('a' + t));
                auto answer = a.call(address_of(b), bytes_of(request), 10s);
                if (!answer) {
                    std::lock_guard lock(failure_mutex);
                    if (failed++ == 0) first_failure = answer.err().message;
                    continue;
                }
                if (text_of(*answer) != "1:" + request) ++wrong;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0) << first_failure;
    EXPECT_EQ(wrong.load(), 0);
}

TEST_F(rpc_test, slow_handler_times_out_the_caller_and_the_host_stays_usable) {
    raft_host& a = start_host();
    raft_host& b = start_host();
    b.set_rpc_handler([&](uint64_t, std::vector<std::byte> request, rpc_reply reply) {
        if (text_of(request) == "slow") hold_.wait();
        reply(request);
    });
    const auto before = std::chrono::steady_clock::now();
    auto late = a.call(address_of(b), bytes_of("slow"), 200ms);
    const auto took = std::chrono::steady_clock::now() - before;
    ASSERT_FALSE(late);
    EXPECT_EQ(late.err().code, errc::timed_out) << late.err().message;
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 5s);
    // The other worker still answers while the first one is stuck.
    for (int i = 0; i < 5; ++i) {
        auto quick = a.call(address_of(b), bytes_of("quick"), 5s);
        ASSERT_TRUE(quick) << quick.err().message;
        EXPECT_EQ(text_of(*quick), "quick");
    }
    hold_.open();
    // The late reply went to a connection the caller dropped; nothing else is confused by it.
    auto after = a.call(address_of(b), bytes_of("after"), 5s);
    ASSERT_TRUE(after) << after.err().message;
    EXPECT_EQ(text_of(*after), "after");
}

TEST_F(rpc_test, unknown_address_is_unavailable_fast_and_a_bad_one_invalid) {
    raft_host& a = start_host();
    // A port nobody listens on: bound, then closed.
    int probe = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(probe);
    const auto before = std::chrono::steady_clock::now();
    auto refused = a.call("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), bytes_of("x"), 10s);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.err().code, errc::unavailable) << refused.err().message;
    EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);

    auto bad = a.call("no-port-here", bytes_of("x"), 1s);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.err().code, errc::invalid_argument);
}

TEST_F(rpc_test, host_without_handler_answers_not_supported) {
    raft_host& a = start_host();
    raft_host& b = start_host();
    auto answer = a.call(address_of(b), bytes_of("anyone?"), 5s);
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.err().code, errc::not_supported) << answer.err().message;
    echo_handler(b);
    auto later = a.call(address_of(b), bytes_of("now"), 5s);
    ASSERT_TRUE(later) << later.err().message;
    EXPECT_EQ(text_of(*later), "1:now");
}

TEST_F(rpc_test, dropped_reply_is_an_error_not_a_hang) {
    raft_host& a = start_host();
    raft_host& b = start_host();
    b.set_rpc_handler([](uint64_t, std::vector<std::byte>, rpc_reply) {});
    auto answer = a.call(address_of(b), bytes_of("x"), 10s);
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.err().code, errc::io_error) << answer.err().message;
}

TEST_F(rpc_test, oversized_request_or_reply_is_too_large_and_both_sides_go_on) {
    raft_host& a = start_host();
    raft_host& b = start_host();
    b.set_rpc_handler([](uint64_t, std::vector<std::byte> request, rpc_reply reply) {
        if (text_of(request) == "big") {
            reply(std::vector<std::byte>(k_rpc_body_bytes_max + 1));
        } else {
            reply(request);
        }
    });
    std::vector<std::byte> huge(k_rpc_body_bytes_max + 1);
    auto sent = a.call(address_of(b), huge, 10s);
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.err().code, errc::too_large);

    auto got = a.call(address_of(b), bytes_of("big"), 10s);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.err().code, errc::too_large) << got.err().message;

    // A frame header announcing more than the limit closes that connection.
    int fd = open_raw_rpc(b.port());
    ASSERT_GE(fd, 0);
    auto header = encode_rpc_request_header(1, 0);
    const uint32_t length = 8 + k_rpc_body_bytes_max + 1;
    std::memcpy(header.data(), &length, 4);  // little endian host
    ASSERT_TRUE(send_bytes(fd, header.data(), header.size()));
    EXPECT_TRUE(closed_by_peer(fd));
    ::close(fd);

    auto fine = a.call(address_of(b), bytes_of("fine"), 5s);
    ASSERT_TRUE(fine) << fine.err().message;
    EXPECT_EQ(text_of(*fine), "fine");
}

TEST_F(rpc_test, garbage_after_an_rpc_preamble_closes_only_that_connection) {
    raft_host& b = start_host();
    raft_host& a = start_host();
    echo_handler(b);
    int good = open_raw_rpc(b.port());
    int bad = open_raw_rpc(b.port());
    ASSERT_GE(good, 0);
    ASSERT_GE(bad, 0);
    const char garbage[] = "\x03\x00\x00\x00zzzzzzzzzzzz";  // length 3 cannot hold a request id
    ASSERT_TRUE(send_bytes(bad, garbage, sizeof garbage - 1));
    EXPECT_TRUE(closed_by_peer(bad));
    ::close(bad);

    // The other hand-made connection still works, frame by frame.
    const std::string body = "by hand";
    auto header = encode_rpc_request_header(77, body.size());
    ASSERT_TRUE(send_bytes(good, header.data(), header.size()));
    ASSERT_TRUE(send_bytes(good, body.data(), body.size()));
    rpc_frame_reader reader(rpc_frame_reader::kind::reply);
    while (reader.current() == rpc_frame_reader::state::need_more) {
        std::span<std::byte> want = reader.next_buffer();
        ssize_t n = ::recv(good, want.data(), want.size(), 0);
        ASSERT_GT(n, 0);
        reader.advance(static_cast<size_t>(n));
    }
    ASSERT_EQ(reader.current(), rpc_frame_reader::state::complete);
    rpc_frame frame = reader.take();
    EXPECT_EQ(frame.request_id, 77u);
    EXPECT_EQ(frame.code, 0);
    EXPECT_EQ(text_of(frame.body), "9:by hand");
    ::close(good);

    auto call = a.call(address_of(b), bytes_of("still"), 5s);
    ASSERT_TRUE(call) << call.err().message;
    EXPECT_EQ(text_of(*call), "2:still");
}

TEST_F(rpc_test, requests_beyond_the_queue_are_answered_queue_full) {
    host_options o;
    o.rpc_threads = 1;
    o.rpc_queue_max = 1;
    raft_host& a = start_host();
    raft_host& b = start_host(o);
    b.set_rpc_handler([&](uint64_t, std::vector<std::byte> request, rpc_reply reply) {
        hold_.wait();
        reply(request);
    });
    // One request runs (held), one waits in the queue, the next is refused.
    auto running =
        std::async(std::launch::async, [&] { return a.call(address_of(b), bytes_of("1"), 20s); });
    ASSERT_TRUE(eventually([&] { return hold_.waiting() == 1; }));
    auto second =
        std::async(std::launch::async, [&] { return a.call(address_of(b), bytes_of("2"), 20s); });
    auto third =
        std::async(std::launch::async, [&] { return a.call(address_of(b), bytes_of("3"), 20s); });
    // Exactly one of the two is refused at once, whichever came second.
    std::optional<result<std::vector<std::byte>>> refused;
    ASSERT_TRUE(eventually([&] {
        return second.wait_for(0s) == std::future_status::ready ||
               third.wait_for(0s) == std::future_status::ready;
    }));
    const bool second_refused = second.wait_for(0s) == std::future_status::ready;
    auto r = second_refused ? second.get() : third.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::queue_full) << r.err().message;
    hold_.open();
    auto ok1 = running.get();
    auto ok2 = second_refused ? third.get() : second.get();
    ASSERT_TRUE(ok1) << ok1.err().message;
    ASSERT_TRUE(ok2) << ok2.err().message;
}

TEST_F(rpc_test, idle_connections_are_closed_and_the_pool_reconnects) {
    host_options o;
    o.rpc_idle_ms = 200;
    raft_host& a = start_host();
    raft_host& b = start_host(o);
    echo_handler(b);
    int idle = open_raw_rpc(b.port());
    ASSERT_GE(idle, 0);
    const auto before = std::chrono::steady_clock::now();
    EXPECT_TRUE(closed_by_peer(idle));
    EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
    ::close(idle);

    ASSERT_TRUE(a.call(address_of(b), bytes_of("one"), 5s));
    std::this_thread::sleep_for(600ms);  // b closes the pooled connection meanwhile
    auto again = a.call(address_of(b), bytes_of("two"), 5s);
    ASSERT_TRUE(again) << again.err().message;
    EXPECT_EQ(text_of(*again), "1:two");
}

TEST_F(rpc_test, raft_groups_keep_working_on_the_same_port_during_calls) {
    for (int i = 0; i < 3; ++i) echo_handler(start_host());
    std::vector<member> voters;
    for (auto& h : hosts_) voters.push_back({h->node_id(), address_of(*h)});
    std::vector<std::shared_ptr<raft_group>> groups;
    std::vector<std::shared_ptr<counting_machine>> machines;
    for (auto& h : hosts_) {
        auto machine = std::make_shared<counting_machine>();
        group_options g;
        g.group_id = 4;
        g.voters = voters;
        auto group = h->open_group(g, machine);
        ASSERT_TRUE(group) << group.err().message;
        groups.push_back(std::move(group).value());
        machines.push_back(machine);
    }
    std::atomic<bool> stop{false};
    std::atomic<int> calls{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&, t] {
            raft_host& from = *hosts_[t % 3];
            raft_host& to = *hosts_[(t + 1) % 3];
            for (int i = 0; !stop; ++i) {
                std::string request = "c" + std::to_string(t) + "-" + std::to_string(i);
                auto answer = from.call(address_of(to), bytes_of(request), 10s);
                if (!answer || text_of(*answer) != std::to_string(from.node_id()) + ":" + request) {
                    ++failures;
                }
                ++calls;
            }
        });
    }
    int committed = 0;
    const auto until = std::chrono::steady_clock::now() + k_deadline;
    while (committed < 10 && std::chrono::steady_clock::now() < until) {
        for (auto& g : groups) {
            if (g->view().self != role::leader) continue;
            auto done = std::make_shared<std::promise<status>>();
            auto future = done->get_future();
            g->propose(bytes_of("cmd"),
                       [done](status s, uint64_t) { done->set_value(std::move(s)); });
            if (future.wait_for(k_deadline) != std::future_status::ready) break;
            if (future.get()) ++committed;
        }
        std::this_thread::sleep_for(5ms);
    }
    stop = true;
    for (auto& t : callers) t.join();
    EXPECT_EQ(committed, 10);
    EXPECT_TRUE(eventually([&] {
        for (auto& m : machines)
            if (m->applied < 10) return false;
        return true;
    }));
    EXPECT_GT(calls.load(), 0);
    EXPECT_EQ(failures.load(), 0);
    // The reserved group id is not a Raft group.
    group_options reserved;
    reserved.group_id = k_rpc_group_id;
    reserved.voters = voters;
    auto refused = hosts_[0]->open_group(reserved, std::make_shared<counting_machine>());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.err().code, errc::invalid_argument);
}

// Starts `count` calls from `from` to `to` on their own threads.
std::vector<std::future<result<std::vector<std::byte>>>> start_calls(raft_host& from,
                                                                     const std::string& to,
                                                                     int count) {
    std::vector<std::future<result<std::vector<std::byte>>>> calls;
    for (int i = 0; i < count; ++i) {
        calls.push_back(std::async(std::launch::async, [&from, to, i] {
            return from.call(to, bytes_of("held-" + std::to_string(i)), 60s);
        }));
    }
    return calls;
}

TEST_F(rpc_test, destroying_the_called_host_fails_calls_in_flight) {
    raft_host& a = start_host();
    raft_host& b = start_host();
    b.set_rpc_handler([&](uint64_t, std::vector<std::byte> request, rpc_reply reply) {
        hold_.wait();
        reply(request);  // after b's connections are closed: dropped
    });
    auto calls = start_calls(a, address_of(b), 4);
    ASSERT_TRUE(eventually([&] { return hold_.waiting() == 2; }));  // two workers busy, two queued
    // b's destructor closes the connections at once, then waits for its handlers.
    auto destroyed = std::async(std::launch::async, [&] { hosts_[1].reset(); });
    for (auto& c : calls) {
        ASSERT_EQ(c.wait_for(10s), std::future_status::ready);
        auto r = c.get();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
    }
    EXPECT_EQ(destroyed.wait_for(0s), std::future_status::timeout) << "handlers still held";
    hold_.open();
    ASSERT_EQ(destroyed.wait_for(10s), std::future_status::ready);
    destroyed.get();
}

TEST_F(rpc_test, destroying_the_calling_host_fails_its_calls_in_flight) {
    start_host();
    raft_host& b = start_host();
    b.set_rpc_handler([&](uint64_t, std::vector<std::byte> request, rpc_reply reply) {
        hold_.wait();
        reply(request);
    });
    auto calls = start_calls(*hosts_[0], address_of(b), 3);
    ASSERT_TRUE(eventually([&] { return hold_.waiting() == 2; }));
    auto destroyed = std::async(std::launch::async, [&] { hosts_[0].reset(); });
    for (auto& c : calls) {
        ASSERT_EQ(c.wait_for(10s), std::future_status::ready);
        auto r = c.get();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
    }
    ASSERT_EQ(destroyed.wait_for(10s), std::future_status::ready);
    destroyed.get();
    hold_.open();
}

TEST_F(rpc_test, stop_calls_fails_the_calls_in_flight_and_the_host_still_answers) {
    raft_host& a = start_host();
    raft_host& b = start_host();
    b.set_rpc_handler([&](uint64_t, std::vector<std::byte> request, rpc_reply reply) {
        hold_.wait();
        reply(request);
    });
    a.set_rpc_handler(
        [](uint64_t, std::vector<std::byte> request, rpc_reply reply) { reply(request); });
    auto calls = start_calls(a, address_of(b), 2);
    ASSERT_TRUE(eventually([&] { return hold_.waiting() == 2; }));
    a.stop_calls();
    // Each would have waited 60 s for b.
    for (auto& c : calls) {
        ASSERT_EQ(c.wait_for(10s), std::future_status::ready);
        auto r = c.get();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
    }
    auto later = a.call(address_of(b), bytes_of("later"), 60s);
    ASSERT_FALSE(later);
    EXPECT_EQ(later.err().code, errc::unavailable) << later.err().message;
    a.stop_calls();  // idempotent
    // a still answers the calls of others.
    auto echoed = b.call(address_of(a), bytes_of("to a"), 10s);
    ASSERT_TRUE(echoed) << echoed.err().message;
    EXPECT_EQ(*echoed, bytes_of("to a"));
    hold_.open();
}

// ---- the frame reader alone ----

std::vector<std::byte> reply_frame(uint64_t id, uint16_t code, const std::string& body) {
    auto header = encode_rpc_reply_header(id, code, body.size());
    std::vector<std::byte> out(header.begin(), header.end());
    auto b = bytes_of(body);
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

TEST(rpc_frame, frames_round_trip_in_every_chunk_size_and_nothing_past_them_is_read) {
    std::vector<std::byte> stream = reply_frame(5, 0, "first");
    auto second = reply_frame(6, static_cast<uint16_t>(errc::not_found), "missing");
    auto empty = reply_frame(7, 0, "");
    stream.insert(stream.end(), second.begin(), second.end());
    stream.insert(stream.end(), empty.begin(), empty.end());
    for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
        rpc_frame_reader reader(rpc_frame_reader::kind::reply);
        std::vector<rpc_frame> frames;
        size_t at = 0;
        while (at < stream.size()) {
            std::span<std::byte> want = reader.next_buffer();
            ASSERT_FALSE(want.empty());
            const size_t n = std::min({want.size(), chunk, stream.size() - at});
            std::memcpy(want.data(), stream.data() + at, n);
            at += n;
            if (reader.advance(n) == rpc_frame_reader::state::complete) {
                frames.push_back(reader.take());
            }
            ASSERT_NE(reader.current(), rpc_frame_reader::state::malformed);
        }
        ASSERT_EQ(frames.size(), 3u) << "chunk " << chunk;
        EXPECT_EQ(frames[0].request_id, 5u);
        EXPECT_EQ(text_of(frames[0].body), "first");
        EXPECT_EQ(frames[1].code, static_cast<uint16_t>(errc::not_found));
        EXPECT_EQ(text_of(frames[1].body), "missing");
        EXPECT_EQ(frames[2].request_id, 7u);
        EXPECT_TRUE(frames[2].body.empty());
    }
}

TEST(rpc_frame, refuses_short_and_oversized_lengths) {
    auto feed_header = [](rpc_frame_reader& reader, uint32_t length) {
        std::array<std::byte, 14> header{};
        std::memcpy(header.data(), &length, 4);
        std::span<std::byte> want = reader.next_buffer();
        std::memcpy(want.data(), header.data(), want.size());
        return reader.advance(want.size());
    };
    rpc_frame_reader short_request(rpc_frame_reader::kind::request);
    EXPECT_EQ(feed_header(short_request, 7), rpc_frame_reader::state::malformed);
    EXPECT_EQ(short_request.error_code(), errc::invalid_argument);
    rpc_frame_reader short_reply(rpc_frame_reader::kind::reply);
    EXPECT_EQ(feed_header(short_reply, 9), rpc_frame_reader::state::malformed);
    rpc_frame_reader big(rpc_frame_reader::kind::request);
    EXPECT_EQ(feed_header(big, 8 + k_rpc_body_bytes_max + 1), rpc_frame_reader::state::malformed);
    EXPECT_EQ(big.error_code(), errc::too_large);
    EXPECT_TRUE(big.next_buffer().empty());
    // Exactly at the limit is accepted, and memory grows only with the bytes that arrive.
    rpc_frame_reader limit(rpc_frame_reader::kind::request);
    EXPECT_EQ(feed_header(limit, 8 + k_rpc_body_bytes_max), rpc_frame_reader::state::need_more);
    EXPECT_EQ(limit.next_buffer().size(), rpc_frame_reader::k_read_step_bytes);
    EXPECT_EQ(rpc_code_to_errc(static_cast<uint16_t>(errc::queue_full)), errc::queue_full);
    EXPECT_EQ(rpc_code_to_errc(999), errc::io_error);
}

}  // namespace
}  // namespace es::replication
