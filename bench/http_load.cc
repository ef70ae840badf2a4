// http_load: an open-loop HTTP/1.1 load generator for POST /v1/events (and any fixed request),
// measuring latency without coordinated omission, as wrk2 does: each connection has a schedule
// of intended send times at the target rate, and a request's latency runs from its intended
// time, not from when a late previous answer let it go. So a server stall shows in the tail as
// it would for independent clients.
//
// One thread drives every connection with epoll directly: a due request costs one send and its
// answer one recv, and the wait for the next due time is epoll_pwait2's own timeout (no timer
// syscalls). The generator must stay light, since on a small machine it shares the cores with
// the server it measures: an earlier version on Asio timers and composed reads took most of a
// core at 27 000 requests/s, and its own queueing then showed as the servers' tail.
//
// Prints one JSON object: target and achieved rate, latency p50/p90/p99/p99.9/max in µs, errors.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/histogram.h"
#include "metrics/histogram_snapshot.h"

namespace {

int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct run_state {
    es::metrics::histogram latency_ns;
    uint64_t ok = 0;
    uint64_t errors = 0;
};

// One keep-alive connection sending the request at its slots, one request at a time.
struct connection {
    int fd = -1;
    int64_t next_ns = 0;      // the next intended send time
    int64_t intended_ns = 0;  // the one in flight
    bool busy = false;
    bool failed = false;
    std::string in;
};

// The length of a whole response at the front of `in`, or 0 while it is incomplete. Sets
// `good` from its status (201 or 202).
size_t response_length(const std::string& in, bool& good) {
    const size_t head_end = in.find("\r\n\r\n");
    if (head_end == std::string::npos) return 0;
    const std::string_view head(in.data(), head_end);
    good = head.size() > 12 && (head.substr(9, 3) == "201" || head.substr(9, 3) == "202");
    size_t length = 0;
    size_t at = 0;
    while ((at = head.find("\r\n", at)) != std::string_view::npos) {
        at += 2;
        constexpr std::string_view name = "content-length:";
        if (head.size() - at < name.size()) break;
        bool match = true;
        for (size_t i = 0; i < name.size() && match; ++i) {
            match = std::tolower(static_cast<unsigned char>(head[at + i])) == name[i];
        }
        if (match) {
            length = std::strtoul(head.data() + at + name.size(), nullptr, 10);
            break;
        }
    }
    const size_t total = head_end + 4 + length;
    return in.size() >= total ? total : 0;
}

bool send_all(int fd, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
        const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // A full socket buffer (the server is not reading): wait for room. Rare with
            // one small request in flight per connection.
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 1000) <= 0) return false;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

int connect_to(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Non-blocking from here on: reads take what has arrived.
    const int flags = O_NONBLOCK;
    if (::fcntl(fd, F_SETFL, flags) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Runs `secs` of load; returns the measured seconds.
double run(uint16_t port, const std::string& request, int connections, double rate, double secs,
           run_state& state) {
    const int64_t interval_ns = static_cast<int64_t>(1e9 * connections / rate);
    const int64_t start = now_ns() + 50'000'000;
    const int64_t end = start + static_cast<int64_t>(secs * 1e9);
    // Answers still out at the end get this long before they count as errors.
    const int64_t drain_end = end + 5'000'000'000;
    const int ep = ::epoll_create1(0);
    std::vector<connection> conns(static_cast<size_t>(connections));
    for (int i = 0; i < connections; ++i) {
        auto& c = conns[static_cast<size_t>(i)];
        c.fd = connect_to(port);
        if (c.fd < 0) {
            std::cerr << "http_load: cannot connect to 127.0.0.1:" << port << ": "
                      << std::strerror(errno) << "\n";
            std::exit(2);
        }
        // Spread the connections' slots evenly over one interval.
        c.next_ns = start + interval_ns * i / connections;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = static_cast<uint32_t>(i);
        ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
    auto send_due = [&](connection& c, int64_t now) {
        if (c.busy || c.failed || c.next_ns >= end || c.next_ns > now) return;
        c.intended_ns = c.next_ns;
        c.next_ns += interval_ns;
        c.busy = true;
        if (!send_all(c.fd, request)) {
            ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
            c.failed = true;
            ++state.errors;
        }
    };
    // The run lasts until the last answer, if that comes after `end` (a server behind
    // schedule): the rate is over the time it took.
    int64_t last_answer_ns = end;
    std::vector<epoll_event> events(static_cast<size_t>(connections));
    char buf[16384];
    for (;;) {
        int64_t now = now_ns();
        bool any_busy = false;
        int64_t wake = drain_end;
        for (auto& c : conns) {
            send_due(c, now);
            if (c.failed) continue;
            if (c.busy) {
                any_busy = true;
            } else if (c.next_ns < end) {
                wake = std::min(wake, c.next_ns);
            }
        }
        if (!any_busy && wake >= drain_end) break;  // every slot sent and answered
        if (now >= drain_end) {
            // Unanswered, and slots never sent (their connection was still waiting): errors.
            for (auto& c : conns) {
                if (c.failed) continue;
                state.errors += c.busy ? 1 : 0;
                if (c.next_ns < end) {
                    state.errors +=
                        static_cast<uint64_t>((end - c.next_ns + interval_ns - 1) / interval_ns);
                }
            }
            break;
        }
        const int64_t wait_ns = std::max<int64_t>(wake - now, 0);
        timespec timeout{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
        const int n = ::epoll_pwait2(ep, events.data(), connections, &timeout, nullptr);
        if (n < 0 && errno != EINTR) {
            std::cerr << "http_load: epoll: " << std::strerror(errno) << "\n";
            std::exit(2);
        }
        for (int e = 0; e < n; ++e) {
            auto& c = conns[events[static_cast<size_t>(e)].data.u32];
            const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                // Closed or broken: this connection is done; its request in flight failed.
                ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                c.failed = true;
                ++state.errors;
                continue;
            }
            c.in.append(buf, static_cast<size_t>(got));
            bool good = false;
            while (const size_t len = response_length(c.in, good)) {
                c.in.erase(0, len);
                if (!c.busy) {  // an answer to nothing sent
                    ++state.errors;
                    continue;
                }
                now = now_ns();
                last_answer_ns = std::max(last_answer_ns, now);
                state.latency_ns.record(static_cast<uint64_t>(now - c.intended_ns));
                good ? ++state.ok : ++state.errors;
                c.busy = false;
                // Behind schedule: send at once (the latency of the late ones counts from
                // their intended time); else the loop waits for the next slot.
                send_due(c, now);
            }
        }
    }
    const double took = static_cast<double>(last_answer_ns - start) / 1e9;
    for (auto& c : conns) ::close(c.fd);
    ::close(ep);
    return took;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Open-loop HTTP load at a fixed rate, latency without coordinated omission"};
    uint16_t port = 0;
    std::string path = "/v1/events";
    std::string body;
    double rate = 1000;
    int connections = 16;
    double seconds = 10;
    double warmup_seconds = 1;
    app.add_option("--port", port, "HTTP port on 127.0.0.1")->required();
    app.add_option("--path", path, "request path");
    app.add_option("--body", body, "POST body")->required();
    app.add_option("--rate", rate, "requests per second, over all connections")
        ->required()
        ->check(CLI::PositiveNumber);
    app.add_option("--connections", connections, "keep-alive connections")
        ->check(CLI::Range(1, 4096));
    app.add_option("--seconds", seconds, "measured time")->check(CLI::PositiveNumber);
    app.add_option("--warmup-seconds", warmup_seconds, "time before measuring");
    CLI11_PARSE(app, argc, argv);

    const std::string request = "POST " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                                "\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    run_state warm;
    if (warmup_seconds > 0) run(port, request, connections, rate, warmup_seconds, warm);
    run_state state;
    const double took_s = run(port, request, connections, rate, seconds, state);
    const auto snap = state.latency_ns.snapshot();
    auto us = [&](double q) { return static_cast<double>(snap.quantile(q)) / 1000.0; };
    const nlohmann::json out = {{"target_rate", rate},
                                {"achieved_rate", static_cast<double>(state.ok) / took_s},
                                {"connections", connections},
                                {"seconds", took_s},
                                {"ok", state.ok},
                                {"errors", state.errors},
                                {"latency_us_p50", us(0.5)},
                                {"latency_us_p90", us(0.9)},
                                {"latency_us_p99", us(0.99)},
                                {"latency_us_p999", us(0.999)},
                                {"latency_us_max", us(1.0)}};
    std::cout << out.dump() << "\n";
    return state.errors == 0 ? 0 : 1;
}
