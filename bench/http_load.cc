// http_load: an open-loop HTTP/1.1 load generator for POST /v1/events (and any fixed request),
// measuring latency without coordinated omission, as wrk2 does: each connection has a schedule
// of intended send times at the target rate, and a request's latency runs from its intended
// time, not from when a late previous answer let it go. So a server stall shows in the tail as
// it would for independent clients. One Asio thread drives every connection.
//
// Prints one JSON object: target and achieved rate, latency p50/p90/p99/p99.9/max in µs, errors.
#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "metrics/histogram.h"
#include "metrics/histogram_snapshot.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct run_state {
    es::metrics::histogram latency_ns;
    uint64_t ok = 0;
    uint64_t errors = 0;
    clock_type::time_point end;
};

// One keep-alive connection sending `request` every `interval`, one at a time.
class connection : public std::enable_shared_from_this<connection> {
  public:
    connection(asio::io_context& io, const std::string& request, std::chrono::nanoseconds interval,
               clock_type::time_point first, run_state& state)
        : socket_(io),
          timer_(io),
          request_(request),
          interval_(interval),
          next_(first),
          state_(state) {}

    void start(const tcp::endpoint& ep) {
        socket_.connect(ep);
        socket_.set_option(tcp::no_delay(true));
        schedule();
    }

  private:
    void schedule() {
        if (next_ >= state_.end) return;
        timer_.expires_at(next_);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (!ec) self->send();
        });
    }

    void send() {
        intended_ = next_;
        next_ += interval_;
        asio::async_write(socket_, asio::buffer(request_),
                          [self = shared_from_this()](boost::system::error_code ec, size_t) {
                              if (ec) return self->fail();
                              self->read_head();
                          });
    }

    void read_head() {
        asio::async_read_until(
            socket_, asio::dynamic_buffer(in_), "\r\n\r\n",
            [self = shared_from_this()](boost::system::error_code ec, size_t head) {
                if (ec) return self->fail();
                self->on_head(head);
            });
    }

    void on_head(size_t head) {
        const std::string_view h(in_.data(), head);
        const bool good = h.size() > 12 && (h.substr(9, 3) == "201" || h.substr(9, 3) == "202");
        size_t length = 0;
        for (const char* name : {"Content-Length: ", "content-length: "}) {
            const auto at = h.find(name);
            if (at != std::string_view::npos) length = std::stoul(std::string(h.substr(at + 16)));
        }
        const size_t need = head + length;
        auto done = [self = shared_from_this(), need, good] {
            self->in_.erase(0, need);
            const auto now = clock_type::now();
            self->state_.latency_ns.record(static_cast<uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - self->intended_)
                    .count()));
            if (good) {
                ++self->state_.ok;
            } else {
                ++self->state_.errors;
            }
            // Behind schedule: send at once (the latency of the late ones is counted from
            // their intended time); else wait for the next slot.
            self->schedule();
        };
        if (in_.size() >= need) return done();
        asio::async_read(socket_, asio::dynamic_buffer(in_),
                         asio::transfer_exactly(need - in_.size()),
                         [self = shared_from_this(), done](boost::system::error_code ec, size_t) {
                             if (ec) return self->fail();
                             done();
                         });
    }

    void fail() { ++state_.errors; }

    tcp::socket socket_;
    asio::steady_timer timer_;
    const std::string& request_;
    const std::chrono::nanoseconds interval_;
    clock_type::time_point next_;
    clock_type::time_point intended_;
    std::string in_;
    run_state& state_;
};

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
    app.add_option("--rate", rate, "requests per second, over all connections")->required();
    app.add_option("--connections", connections, "keep-alive connections");
    app.add_option("--seconds", seconds, "measured time");
    app.add_option("--warmup-seconds", warmup_seconds, "time before measuring");
    CLI11_PARSE(app, argc, argv);

    const std::string request = "POST " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                                "\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    const auto interval = std::chrono::nanoseconds(static_cast<int64_t>(1e9 * connections / rate));

    auto run = [&](double secs, run_state& state) {
        asio::io_context io;
        const auto start = clock_type::now() + std::chrono::milliseconds(50);
        state.end = start + std::chrono::nanoseconds(static_cast<int64_t>(secs * 1e9));
        std::vector<std::shared_ptr<connection>> conns;
        for (int i = 0; i < connections; ++i) {
            // Spread the connections' slots evenly over one interval.
            auto c = std::make_shared<connection>(io, request, interval,
                                                  start + interval * i / connections, state);
            c->start(ep);
            conns.push_back(c);
        }
        io.run();
        return clock_type::now() - start;
    };
    run_state warm;
    if (warmup_seconds > 0) run(warmup_seconds, warm);
    run_state state;
    const auto took = run(seconds, state);
    const auto snap = state.latency_ns.snapshot();
    const double took_s = std::chrono::duration<double>(took).count();
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
