// group_transport's outgoing connections against peers that never finish setting one up: a real
// libuv loop and real loopback sockets whose owner never answers.
#include "replication/raft_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "replication/raft_loop.h"

namespace es::replication {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr uint64_t k_timeout_ms = 300;

// A loopback listening socket whose process never accepts, reads or answers: the kernel still
// completes TCP handshakes into its accept queue (backlog + 1 of them), then drops further SYNs.
class silent_peer {
  public:
    explicit silent_peer(int backlog) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(fd_, backlog), 0);
        socklen_t len = sizeof addr;
        EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
        port_ = ntohs(addr.sin_port);
    }
    ~silent_peer() {
        for (int c : clients_) ::close(c);
        ::close(fd_);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    uint16_t port() const { return port_; }

    // Whether the last socket fill_accept_queue() connected is still waiting for the handshake
    // (its SYNs dropped all along).
    bool last_client_still_connecting() const {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        return !clients_.empty() &&
               ::getpeername(clients_.back(), reinterpret_cast<sockaddr*>(&peer), &len) != 0;
    }

    // Connects plain sockets until the accept queue is full, so that the next SYN is dropped:
    // what a connect to a host that is down or cut off sees. Returns false if it cannot tell.
    bool fill_accept_queue() {
        for (int i = 0; i < 16; ++i) {
            const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr.sin_port = htons(port_);
            ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
            clients_.push_back(c);
            // A handshake the queue took completes at once on loopback; one it dropped does not.
            std::this_thread::sleep_for(50ms);
            if (last_client_still_connecting()) return true;
        }
        return false;
    }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
    std::vector<int> clients_;
};

// One transport on its own loop; connect() reports raft_uv's callback status.
class transport_fixture {
  public:
    explicit transport_fixture(uint64_t timeout_ms = k_timeout_ms) : loop_("transport-test") {
        EXPECT_TRUE(loop_.start());
        run([this, timeout_ms] {
            transport_ = std::make_unique<group_transport>(std::make_shared<group_registry>(),
                                                           &loop_, 7, timeout_ms);
            auto* t = transport_->get();
            EXPECT_EQ(t->init(t, 1, "127.0.0.1:1"), 0);
        });
    }
    ~transport_fixture() {
        std::promise<void> closed;
        run([&] {
            auto* t = transport_->get();
            t->data = &closed;
            t->close(t, [](struct raft_uv_transport* t) {
                static_cast<std::promise<void>*>(t->data)->set_value();
            });
        });
        EXPECT_EQ(closed.get_future().wait_for(10s), std::future_status::ready);
        run([this] { transport_.reset(); });
        loop_.stop();
    }

    // The status raft_uv would get for a connection to `address`, and how long it took.
    std::pair<int, std::chrono::milliseconds> connect(const std::string& address) {
        // Kept by the fixture: a connect still pending when the test gives up is called back
        // when the transport closes.
        auto& a = attempts_.emplace_back();
        std::promise<int>& done = a.done;
        struct raft_uv_connect& req = a.req;
        req.data = &done;
        const auto start = clock_type::now();
        run([&] {
            auto* t = transport_->get();
            const int rv = t->connect(t, &req, 2, address.c_str(),
                                      [](struct raft_uv_connect* req, uv_stream_t* stream, int st) {
                                          if (stream != nullptr) {
                                              uv_close(reinterpret_cast<uv_handle_t*>(stream),
                                                       [](uv_handle_t* h) { raft_free(h); });
                                          }
                                          static_cast<std::promise<int>*>(req->data)->set_value(st);
                                      });
            if (rv != 0) done.set_value(rv);
        });
        auto f = done.get_future();
        if (f.wait_for(30s) != std::future_status::ready) return {-1, 30'000ms};
        const int status = f.get();
        return {status,
                std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start)};
    }

  private:
    template <class F>
    void run(F f) {
        std::promise<void> ran;
        ASSERT_TRUE(loop_.post([&] {
            f();
            ran.set_value();
        }));
        ran.get_future().wait();
    }

    struct attempt {
        std::promise<int> done;
        struct raft_uv_connect req {};
    };

    raft_loop loop_;
    std::unique_ptr<group_transport> transport_;
    std::list<attempt> attempts_;
};

TEST(raft_transport, a_peer_that_never_acks_the_preamble_fails_the_connect_at_the_timeout) {
    silent_peer peer(8);  // handshakes complete; the preamble is never read or answered
    transport_fixture fx;
    const auto [status, took] = fx.connect(peer.address());
    EXPECT_EQ(status, RAFT_NOCONNECTION);
    EXPECT_GE(took.count(), static_cast<int64_t>(k_timeout_ms) - 5);  // timers may round down
    EXPECT_LT(took.count(), 10'000);
}

TEST(raft_transport, a_peer_that_drops_syns_fails_the_connect_at_the_timeout) {
    silent_peer peer(0);
    if (!peer.fill_accept_queue()) GTEST_SKIP() << "this kernel did not drop SYNs to a full queue";
    transport_fixture fx;
    const auto [status, took] = fx.connect(peer.address());
    EXPECT_EQ(status, RAFT_NOCONNECTION);
    EXPECT_GE(took.count(), static_cast<int64_t>(k_timeout_ms) - 5);
    // Without the timeout the kernel's SYN retries would hold it for about two minutes.
    EXPECT_LT(took.count(), 10'000);
    // The queue dropped SYNs the whole time, so the attempt never got past the TCP connect.
    EXPECT_TRUE(peer.last_client_still_connecting());
}

TEST(raft_transport, a_peer_named_by_host_name_is_looked_up_and_timed_out_alike) {
    silent_peer peer(8);
    transport_fixture fx;
    const auto [status, took] = fx.connect("localhost:" + std::to_string(peer.port()));
    EXPECT_EQ(status, RAFT_NOCONNECTION);
    // localhost may resolve to ::1 first, where nothing listens: refused at once, then.
    EXPECT_LT(took.count(), 10'000);
}

TEST(raft_transport, a_refused_connect_fails_at_once_not_at_the_timeout) {
    int port = 0;
    {
        silent_peer gone(1);  // a port that was just free: closed again before the connect
        port = std::stoi(gone.address().substr(10));
    }
    transport_fixture fx(10'000);
    const auto [status, took] = fx.connect("127.0.0.1:" + std::to_string(port));
    EXPECT_EQ(status, RAFT_NOCONNECTION);
    EXPECT_LT(took.count(), 5'000);  // a refusal is answered at once, not at the timeout
}

}  // namespace
}  // namespace es::replication
