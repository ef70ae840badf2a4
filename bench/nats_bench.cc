// The NATS side of the native-protocol and replication benchmarks: a small load generator on
// NATS's C client (Debian libnats-dev) against nats-servers that scripts/bench starts. It runs
// the same workloads as our side (esctl bench), so that both figures come from one run on one
// machine:
//   pub      1 publisher, as fast as it can, for --duration-ms; msgs/s published (and flushed)
//   pubsub   1 publisher and 1 subscriber; msgs/s delivered to the subscriber
//   latency  1 publisher at --rate msgs/s and 1 subscriber; latency from when each message was
//            due (its timestamp is in the payload) to its receipt, p50/p99/p99.9, so that a
//            publisher that falls behind shows up (no coordinated omission)
//   jspub    JetStream durable publish (scripts/bench cluster): creates the stream --stream
//            (subject --subject, file storage, --replicas copies), waits until it has a leader
//            and every replica is current, then 1 publisher publishes with asynchronous acks
//            (at most --max-pending unacknowledged) for --duration-ms: msgs/s acknowledged by
//            the stream, and ack latency p50/p99/p99.9 from the publish call to its ack. With
//            --rate it publishes at that rate and times each ack from when the message was due.
//            With --names (each --url server's server_name, same order; --url a comma-separated
//            list) it publishes through the stream leader's server, as our side publishes to
//            the partition's leader.
// The last line printed is one JSON object.
#include <nats/nats.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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
    // jspub only.
    std::string stream = "BENCH";
    int64_t replicas = 1;
    int64_t max_pending = 4096;
    std::string names;   // server_name of each --url, comma-separated, same order
    double js_rate = 0;  // messages per second when --rate is given; 0: as fast as acks allow
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

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, sep);)
        if (!part.empty()) parts.push_back(part);
    return parts;
}

// url may be a comma-separated list: the client tries the servers in that order.
natsConnection* connect(const std::string& url) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    // libnats 3.4 takes a list through SetServers only (SetURL does not split at commas).
    const auto urls = split(url, ',');
    std::vector<const char*> servers;
    for (const auto& u : urls) servers.push_back(u.c_str());
    natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
    natsOptions_SetNoRandomize(opts, true);
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

// jspub: what the ack callback (on libnats's thread for the ack subscription) shares with the
// publishing thread.
struct js_state {
    int64_t measure_from = 0;  // constant while publishing: acks of messages sent earlier are
                               // warm-up and not counted
    std::atomic<uint64_t> acked{0};
    std::atomic<uint64_t> failed{0};
    std::atomic<int64_t> last_ack_ns{0};
    es::metrics::histogram latency_ns;
    std::mutex mu;
    std::string first_error;  // guarded by mu
};

void on_js_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto& s = *static_cast<js_state*>(closure);
    const int64_t now = es::monotonic_ns();
    if (pa != nullptr && msg != nullptr && natsMsg_GetDataLength(msg) >= 8) {
        int64_t sent = 0;
        std::memcpy(&sent, natsMsg_GetData(msg), sizeof sent);
        if (sent >= s.measure_from) {
            s.latency_ns.record(static_cast<uint64_t>(now - sent));
            s.acked.fetch_add(1, std::memory_order_relaxed);
            s.last_ack_ns.store(now, std::memory_order_relaxed);
        }
    } else if (pae != nullptr) {
        if (s.failed.fetch_add(1) == 0) {
            std::lock_guard lk(s.mu);
            s.first_error = std::string(natsStatus_GetText(pae->Err)) + " (" +
                            std::to_string(pae->ErrCode) + ") " +
                            (pae->ErrText != nullptr ? pae->ErrText : "");
        }
    }
    natsMsg_Destroy(msg);
}

// Creates the stream (deleting an older one of that name), retrying while a fresh cluster has
// no JetStream meta leader yet, then waits until the stream has a leader. Returns the leader's
// server_name ("" when the server does not say, as a single server may not).
std::string create_stream(natsConnection* nc, const bench_config& c) {
    jsCtx* js = nullptr;
    check(natsConnection_JetStream(&js, nc, nullptr), "jetstream context");
    const int64_t give_up = es::monotonic_ns() + 60'000'000'000;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    (void)js_DeleteStream(js, c.stream.c_str(), nullptr, &jerr);
    const char* subjects[] = {c.subject.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = c.stream.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = c.replicas;
    for (;;) {
        jsStreamInfo* si = nullptr;
        jerr = static_cast<jsErrCode>(0);
        const natsStatus s = js_AddStream(&si, js, &sc, nullptr, &jerr);
        if (s == NATS_OK) {
            jsStreamInfo_Destroy(si);
            break;
        }
        if (es::monotonic_ns() > give_up) {
            std::cerr << "nats_bench: add stream " << c.stream << ": " << natsStatus_GetText(s)
                      << " (" << jerr << ") " << nats_GetLastError(nullptr) << "\n";
            std::exit(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::string leader;
    for (;;) {
        jsStreamInfo* si = nullptr;
        if (js_GetStreamInfo(&si, js, c.stream.c_str(), nullptr, &jerr) == NATS_OK) {
            if (si->Cluster != nullptr && si->Cluster->Leader != nullptr)
                leader = si->Cluster->Leader;
            // Every replica current, so that the first publishes do not wait for catch-up.
            bool replicas_current = si->Cluster == nullptr || c.replicas <= 1 ||
                                    si->Cluster->ReplicasLen + 1 >= c.replicas;
            for (int i = 0; si->Cluster != nullptr && i < si->Cluster->ReplicasLen; ++i)
                replicas_current = replicas_current && si->Cluster->Replicas[i]->Current;
            jsStreamInfo_Destroy(si);
            if ((!leader.empty() || c.replicas <= 1) && replicas_current) break;
        }
        if (es::monotonic_ns() > give_up) {
            std::cerr << "nats_bench: stream " << c.stream << " has no leader after 60 s\n";
            std::exit(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    jsCtx_Destroy(js);
    return leader;
}

int run_jspub(const bench_config& c) {
    natsConnection* admin = connect(c.url);
    const std::string leader = create_stream(admin, c);
    natsConnection_Destroy(admin);
    // Publish through the leader's server when we know which URL it is; otherwise through the
    // first URL (a follower forwards to the leader over the route: one hop more).
    std::string url = c.url;
    const auto urls = split(c.url, ',');
    const auto names = split(c.names, ',');
    for (size_t i = 0; i < names.size() && i < urls.size(); ++i)
        if (names[i] == leader) url = urls[i];
    natsConnection* nc = connect(url);

    js_state state;
    const int64_t start = es::monotonic_ns();
    state.measure_from = start + int64_t{c.warmup_ms} * 1'000'000;
    const int64_t end = state.measure_from + int64_t{c.duration_ms} * 1'000'000;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = c.max_pending;
    jo.PublishAsync.AckHandler = on_js_ack;
    jo.PublishAsync.AckHandlerClosure = &state;
    // A full window blocks the publish call this long before it gives up with a timeout (and
    // we call again): long enough that a slow ack does not spin the publisher.
    jo.PublishAsync.StallWait = 10000;
    jsCtx* js = nullptr;
    check(natsConnection_JetStream(&js, nc, &jo), "jetstream context");

    std::string payload(c.size, 'x');
    uint64_t published = 0;
    // At a fixed rate each message carries the time it was due, so that a publisher held up by
    // a full window shows in the latencies (no coordinated omission).
    const double interval_ns = c.js_rate > 0 ? 1e9 / c.js_rate : 0;
    for (int64_t now = start; now < end; now = es::monotonic_ns()) {
        int64_t due = now;
        if (interval_ns > 0) {
            due = start + static_cast<int64_t>(interval_ns * static_cast<double>(published));
            es::wait_until_monotonic_ns(due);
        }
        std::memcpy(payload.data(), &due, sizeof due);
        const natsStatus s = js_PublishAsync(js, c.subject.c_str(), payload.data(),
                                             static_cast<int>(payload.size()), nullptr);
        if (s == NATS_TIMEOUT) continue;  // the window stayed full for StallWait
        check(s, "publish async");
        ++published;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    check(js_PublishAsyncComplete(js, &po), "wait for the outstanding acks");

    const uint64_t acked = state.acked.load();
    const int64_t last_ack = std::max(state.last_ack_ns.load(), state.measure_from + 1);
    const double secs = static_cast<double>(last_ack - state.measure_from) / 1e9;
    const auto snap = state.latency_ns.snapshot();
    nlohmann::json out{{"system", "nats-jetstream"},
                       {"mode", c.mode},
                       {"size", c.size},
                       {"stream", c.stream},
                       {"replicas", c.replicas},
                       {"storage", "file"},
                       {"max_pending", c.max_pending},
                       {"rate", c.js_rate},
                       {"leader", leader},
                       {"published", published},
                       {"acked", acked},
                       {"failed", state.failed.load()},
                       {"acked_per_s", static_cast<double>(acked) / secs},
                       {"p50_ns", snap.quantile(0.5)},
                       {"p99_ns", snap.quantile(0.99)},
                       {"p999_ns", snap.quantile(0.999)}};
    {
        std::lock_guard lk(state.mu);
        if (!state.first_error.empty()) out["first_error"] = state.first_error;
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    std::cout << out.dump() << "\n";
    return state.failed.load() == 0 && acked > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    bench_config c;
    CLI::App app{"NATS load generator (the NATS side of scripts/bench native)"};
    app.add_option("--url", c.url, "nats-server URL");
    app.add_option("--mode", c.mode, "pub, pubsub, latency or jspub")
        ->check(CLI::IsMember({"pub", "pubsub", "latency", "jspub"}));
    app.add_option("--size", c.size, "payload bytes");
    app.add_option("--duration-ms", c.duration_ms, "measured time");
    app.add_option("--warmup-ms", c.warmup_ms, "unmeasured time first");
    auto* rate = app.add_option("--rate", c.rate,
                                "latency mode: messages per second; jspub: publish at this rate "
                                "(default: as fast as the window of acks allows)");
    app.add_option("--subject", c.subject, "subject published to (jspub: the stream's subject)");
    app.add_option("--stream", c.stream, "jspub: stream name");
    app.add_option("--replicas", c.replicas, "jspub: stream replicas")->check(CLI::Range(1, 5));
    app.add_option("--max-pending", c.max_pending, "jspub: unacknowledged publishes at most")
        ->check(CLI::Range(1, 1 << 20));
    app.add_option("--names", c.names,
                   "jspub: server_name of each server in --url, comma-separated, same order");
    CLI11_PARSE(app, argc, argv);
    if (c.size < 8) c.size = 8;
    if (c.mode == "jspub") {
        if (rate->count() > 0) c.js_rate = c.rate;
        return run_jspub(c);
    }

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
