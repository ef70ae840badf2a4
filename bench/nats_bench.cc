// The NATS side of the native-protocol benchmark: a small load generator on NATS's C client
// (Debian libnats-dev) against a nats-server that scripts/bench starts. It runs the same
// workloads as our side (esctl bench), so that both figures come from one run on one machine:
//   pub      1 publisher, as fast as it can, for --duration-ms; msgs/s published (and flushed)
//   pubsub   1 publisher and 1 subscriber; msgs/s delivered to the subscriber
//   latency  1 publisher at --rate msgs/s and 1 subscriber; latency from when each message was
//            due (its timestamp is in the payload) to its receipt, p50/p99/p99.9, so that a
//            publisher that falls behind shows up (no coordinated omission)
// The last line printed is one JSON object.
#include <nats/nats.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/pace.h"
#include "metrics/histogram.h"

namespace {

struct bench_config {
    std::string url = "nats://127.0.0.1:4222";
    std::string mode = "pub";
    uint32_t size = 128;
    uint32_t duration_ms = 3000;
    uint32_t warmup_ms = 300;
    double rate = 100000;
    std::string subject = "bench";
};

struct sub_state {
    std::atomic<uint64_t> received{0};
    std::atomic<bool> measuring{false};
    bool record_latency = false;
    es::metrics::histogram latency_ns;
};

void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto& s = *static_cast<sub_state*>(closure);
    if (s.measuring.load(std::memory_order_relaxed)) {
        s.received.fetch_add(1, std::memory_order_relaxed);
        if (s.record_latency && natsMsg_GetDataLength(msg) >= 8) {
            int64_t due = 0;
            std::memcpy(&due, natsMsg_GetData(msg), sizeof due);
            s.latency_ns.record(static_cast<uint64_t>(es::monotonic_ns() - due));
        }
    }
    natsMsg_Destroy(msg);
}

natsConnection* connect(const std::string& url) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetIOBufSize(opts, 1 << 20);
    natsConnection* nc = nullptr;
    const natsStatus s = natsConnection_Connect(&nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        std::cerr << "nats_bench: cannot connect to " << url << ": " << natsStatus_GetText(s)
                  << "\n";
        std::exit(1);
    }
    return nc;
}

void check(natsStatus s, const char* what) {
    if (s != NATS_OK) {
        std::cerr << "nats_bench: " << what << ": " << natsStatus_GetText(s) << "\n";
        std::exit(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    bench_config c;
    CLI::App app{"NATS load generator (the NATS side of scripts/bench native)"};
    app.add_option("--url", c.url, "nats-server URL");
    app.add_option("--mode", c.mode, "pub, pubsub or latency")
        ->check(CLI::IsMember({"pub", "pubsub", "latency"}));
    app.add_option("--size", c.size, "payload bytes");
    app.add_option("--duration-ms", c.duration_ms, "measured time");
    app.add_option("--warmup-ms", c.warmup_ms, "unmeasured time first");
    app.add_option("--rate", c.rate, "latency mode: messages per second");
    CLI11_PARSE(app, argc, argv);
    if (c.size < 8) c.size = 8;

    natsConnection* pub = connect(c.url);
    natsConnection* subc = nullptr;
    natsSubscription* sub = nullptr;
    sub_state state;
    state.record_latency = c.mode == "latency";
    if (c.mode != "pub") {
        subc = connect(c.url);
        check(natsConnection_Subscribe(&sub, subc, c.subject.c_str(), on_message, &state),
              "subscribe");
        // Let the subscriber queue as much as memory allows: we count what it is delivered.
        check(natsSubscription_SetPendingLimits(sub, -1, -1), "pending limits");
        check(natsConnection_Flush(subc), "flush subscription");
    }

    std::string payload(c.size, 'x');
    const int64_t start = es::monotonic_ns();
    const int64_t measure_from = start + int64_t{c.warmup_ms} * 1'000'000;
    const int64_t end = measure_from + int64_t{c.duration_ms} * 1'000'000;
    const double interval_ns = c.mode == "latency" ? 1e9 / c.rate : 0;
    uint64_t sent = 0, sent_measured = 0;
    int64_t measured_start = 0;
    bool measuring = false;
    for (;;) {
        int64_t now = es::monotonic_ns();
        if (now >= end) break;
        if (!measuring && now >= measure_from) {
            measuring = true;
            measured_start = now;
            state.measuring.store(true);
        }
        int64_t due = now;
        if (interval_ns > 0) {
            due = start + static_cast<int64_t>(interval_ns * static_cast<double>(sent));
            now = es::wait_until_monotonic_ns(due);
        }
        std::memcpy(payload.data(), &due, sizeof due);
        check(natsConnection_Publish(pub, c.subject.c_str(), payload.data(),
                                     static_cast<int>(payload.size())),
              "publish");
        ++sent;
        if (measuring) ++sent_measured;
    }
    // Published means the server has it: wait for the flush before the clock stops.
    check(natsConnection_FlushTimeout(pub, 30000), "flush");
    const int64_t measured_ns = es::monotonic_ns() - measured_start;
    if (sub != nullptr) {
        // Give the subscriber what is in flight, then stop counting.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        state.measuring.store(false);
    }

    nlohmann::json out{{"system", "nats"}, {"mode", c.mode}, {"size", c.size}};
    const double secs = static_cast<double>(measured_ns) / 1e9;
    out["published_per_s"] = static_cast<double>(sent_measured) / secs;
    if (sub != nullptr) {
        int64_t dropped = 0;
        natsSubscription_GetDropped(sub, &dropped);
        out["delivered_per_s"] = static_cast<double>(state.received.load()) / secs;
        out["dropped"] = dropped;
    }
    if (state.record_latency) {
        const auto snap = state.latency_ns.snapshot();
        out["rate"] = c.rate;
        out["p50_ns"] = snap.quantile(0.5);
        out["p99_ns"] = snap.quantile(0.99);
        out["p999_ns"] = snap.quantile(0.999);
    }
    if (sub != nullptr) natsSubscription_Destroy(sub);
    if (subc != nullptr) natsConnection_Destroy(subc);
    natsConnection_Destroy(pub);
    nats_Close();
    std::cout << out.dump() << "\n";
    return 0;
}
