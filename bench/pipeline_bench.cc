// In-process pipeline benchmark: producer threads publish through the dispatcher to the
// workers, which append to memory partitions and deliver to a subscriber. Prints throughput
// and end-to-end latency (producer's timestamp to the subscriber's receipt) at maximum load and
// at half of it, for each payload size; the last line is one JSON object for scripts/bench.
//
// Latency at a fixed rate is measured without coordinated omission: each event carries the
// time it was *due* to be sent, so a producer that falls behind shows up in the figures.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "core/cpu_affinity.h"
#include "core/engine.h"
#include "core/feed.h"
#include "metrics/histogram.h"

namespace {

using es::core::event_in;
using es::core::event_view;

struct bench_config {
    uint32_t producers = 1;
    uint32_t workers = 1;
    uint32_t partitions = 0;  // 0: one per worker
    uint32_t batch_events = 64;
    std::vector<uint32_t> payloads{64, 512};
    uint32_t duration_ms = 2000;
    uint32_t warmup_ms = 300;
    uint32_t repeats = 3;
    std::string subscriber = "inline";  // inline | thread
    bool pin = true;
    double rate = 0;  // events/s; when set, only this fixed rate is measured
};

struct run_result {
    double events_per_s = 0;
    uint64_t p50_ns = 0;
    uint64_t p90_ns = 0;
    uint64_t p99_ns = 0;
    uint64_t p999_ns = 0;
    uint64_t max_ns = 0;
    uint64_t events = 0;
    uint64_t gaps = 0;
    // During the measured window, for the whole process: minor page faults and involuntary
    // context switches (the usual causes of a latency tail on a shared machine).
    long minor_faults = 0;
    long involuntary_switches = 0;
};

// Shared by the subscriber side: counts events and records latencies once measuring.
struct receiver {
    std::atomic<bool> measuring{false};
    std::atomic<uint64_t> received{0};
    std::atomic<uint64_t> gaps{0};
    es::metrics::histogram latency;

    // One event received at `now` (one clock read serves a whole delivery).
    void take(const event_view& e, int64_t now) {
        int64_t sent;
        std::memcpy(&sent, e.payload.data(), sizeof sent);
        latency.record(static_cast<uint64_t>(std::max<int64_t>(now - sent, 0)));
    }
    void take(const es::core::record_run& run) {
        if (!measuring.load(std::memory_order_relaxed)) return;
        const int64_t now = es::monotonic_ns();
        es::core::for_each_event(run, [&](const event_view& e) { take(e, now); });
        received.fetch_add(run.count, std::memory_order_relaxed);
    }
};

// The subscriber runs on the worker thread: it is handed each delivery as it is appended.
class inline_sink final : public es::core::subscription_sink {
  public:
    explicit inline_sink(receiver& r) : r_(r) {}
    es::core::delivery_credit credit(uint32_t) override { return {UINT32_MAX, UINT64_MAX}; }
    void on_events(uint32_t, const es::core::record_run& events) override { r_.take(events); }
    void on_gap(uint32_t, uint64_t, uint64_t) override { r_.gaps.fetch_add(1); }

  private:
    receiver& r_;
};

run_result run_once(const bench_config& cfg, uint32_t payload_bytes, double rate_per_s) {
    es::core::engine_options eo;
    eo.workers = cfg.workers;
    eo.pin_workers = cfg.pin;
    es::core::engine engine(eo);
    engine.start();
    es::core::topic_config tc;
    tc.name = "bench";
    tc.partitions = cfg.partitions ? cfg.partitions : cfg.workers;
    // Small enough that the partition reaches its steady state (segments recycled, no page
    // faults) within the warm-up at every rate measured here.
    tc.retention_bytes = 16ull << 20;
    if (auto r = engine.create_topic(tc); !r) {
        std::cerr << "create_topic: " << r.err().message << "\n";
        std::exit(1);
    }
    auto topic = *engine.find_topic("bench");

    receiver recv;
    std::shared_ptr<es::core::feed> feed;
    std::atomic<bool> stop_subscriber{false};
    std::thread subscriber;
    if (cfg.subscriber == "thread") {
        feed = std::make_shared<es::core::feed>(tc.partitions);
        (void)engine.subscribe(topic, {}, es::core::start_position::latest(), feed);
        subscriber = std::thread([&] {
            while (!stop_subscriber.load(std::memory_order_relaxed)) {
                const int64_t now = es::monotonic_ns();
                const bool measuring = recv.measuring.load(std::memory_order_relaxed);
                const size_t n = feed->poll(
                    [&](const event_view& e, uint32_t) {
                        if (measuring) recv.take(e, now);
                    },
                    [&](uint32_t, uint64_t, uint64_t) { recv.gaps.fetch_add(1); }, 4096);
                if (measuring) recv.received.fetch_add(n, std::memory_order_relaxed);
                if (n == 0) es::cpu_relax();
            }
        });
    } else {
        (void)engine.subscribe(topic, {}, es::core::start_position::latest(),
                               std::make_shared<inline_sink>(recv));
    }

    std::atomic<bool> stop_producers{false};
    std::vector<std::thread> producers;
    const double rate_each = rate_per_s / cfg.producers;
    for (uint32_t p = 0; p < cfg.producers; ++p) {
        producers.emplace_back([&, p] {
            // Producers go on the cores after the workers', so that a producer and a worker
            // do not share a core while others sit idle.
            if (cfg.pin) {
                const auto cpus = es::core::allowed_cpus();
                if (!cpus.empty())
                    es::core::pin_current_thread(cpus[(cfg.workers + p) % cpus.size()]);
            }
            std::vector<std::string> payloads(cfg.batch_events, std::string(payload_bytes, 'x'));
            std::vector<event_in> events(cfg.batch_events);
            for (uint32_t i = 0; i < cfg.batch_events; ++i) {
                events[i] = event_in::without_key(payloads[i]);
            }
            es::core::publish_options po;
            po.on_full = es::core::backpressure::block;
            po.partition = p % tc.partitions;
            const int64_t start = es::monotonic_ns();
            uint64_t sent = 0;
            while (!stop_producers.load(std::memory_order_relaxed)) {
                size_t n = cfg.batch_events;
                int64_t stamp = 0;
                if (rate_each > 0) {
                    // Publish every event whose time has come, each stamped with that time.
                    const int64_t now = es::monotonic_ns();
                    // Event k is due at start + k / rate, so k + 1 events are due once that
                    // time has passed.
                    const auto due =
                        static_cast<uint64_t>(static_cast<double>(now - start) * rate_each / 1e9) +
                        1;
                    if (due <= sent) {
                        es::cpu_relax();
                        continue;
                    }
                    n = std::min<uint64_t>(due - sent, cfg.batch_events);
                    for (size_t i = 0; i < n; ++i) {
                        const int64_t due_at =
                            start + static_cast<int64_t>((sent + i) * 1e9 / rate_each);
                        std::memcpy(payloads[i].data(), &due_at, sizeof due_at);
                    }
                } else {
                    stamp = es::monotonic_ns();
                    for (size_t i = 0; i < n; ++i) {
                        std::memcpy(payloads[i].data(), &stamp, sizeof stamp);
                    }
                }
                auto r = engine.publish(topic, std::span(events.data(), n), po);
                if (!r) {
                    std::cerr << "publish: " << r.err().message << "\n";
                    std::exit(1);
                }
                sent += n;
            }
        });
    }

    std::this_thread::sleep_for(std::chrono::milliseconds(cfg.warmup_ms));
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    recv.measuring.store(true);
    const int64_t t0 = es::monotonic_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(cfg.duration_ms));
    recv.measuring.store(false);
    const int64_t t1 = es::monotonic_ns();
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    stop_producers.store(true);
    for (auto& t : producers) t.join();
    engine.stop();
    stop_subscriber.store(true);
    if (subscriber.joinable()) subscriber.join();

    const auto snap = recv.latency.snapshot();
    run_result r;
    r.events = recv.received.load();
    r.events_per_s = static_cast<double>(r.events) * 1e9 / static_cast<double>(t1 - t0);
    r.p50_ns = snap.quantile(0.50);
    r.p90_ns = snap.quantile(0.90);
    r.p99_ns = snap.quantile(0.99);
    r.p999_ns = snap.quantile(0.999);
    r.max_ns = snap.max();
    r.gaps = recv.gaps.load();
    r.minor_faults = after.ru_minflt - before.ru_minflt;
    r.involuntary_switches = after.ru_nivcsw - before.ru_nivcsw;
    return r;
}

// How much time a thread that never blocks still loses on this machine: every allowed CPU is
// spun on for `ms` and each gap between two clock reads longer than 2 us is counted as time
// the thread did not run (hypervisor, interrupts, other tasks). A pipeline of spinning
// threads cannot have a latency tail below what this shows.
struct jitter_result {
    double lost_fraction = 0;  // worst CPU: share of time in gaps
    uint64_t gaps_per_s = 0;   // worst CPU
    uint64_t gap_p50_ns = 0;   // over all CPUs' gaps
    uint64_t gap_p99_ns = 0;
};

jitter_result measure_jitter(uint32_t ms) {
    const auto cpus = es::core::allowed_cpus();
    es::metrics::histogram gaps;
    std::vector<double> lost(cpus.size());
    std::vector<uint64_t> counts(cpus.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < cpus.size(); ++i) {
        threads.emplace_back([&, i] {
            es::core::pin_current_thread(cpus[i]);
            const int64_t start = es::monotonic_ns();
            const int64_t end = start + int64_t{ms} * 1'000'000;
            int64_t prev = start;
            int64_t gap_total = 0;
            for (int64_t now = start; now < end; prev = now) {
                now = es::monotonic_ns();
                if (now - prev > 2000) {
                    gap_total += now - prev;
                    counts[i]++;
                    gaps.record(static_cast<uint64_t>(now - prev));
                }
            }
            lost[i] = static_cast<double>(gap_total) / static_cast<double>(end - start);
        });
    }
    for (auto& t : threads) t.join();
    jitter_result j;
    for (size_t i = 0; i < cpus.size(); ++i) {
        j.lost_fraction = std::max(j.lost_fraction, lost[i]);
        j.gaps_per_s = std::max(j.gaps_per_s, counts[i] * 1000 / ms);
    }
    const auto snap = gaps.snapshot();
    j.gap_p50_ns = snap.quantile(0.5);
    j.gap_p99_ns = snap.quantile(0.99);
    return j;
}

// Each figure is the median of that figure over `repeats` runs (a run with one preemption
// on a shared machine should not decide the result, in either direction).
run_result median_run(const bench_config& cfg, uint32_t payload, double rate) {
    std::vector<run_result> runs;
    for (uint32_t i = 0; i < cfg.repeats; ++i) runs.push_back(run_once(cfg, payload, rate));
    auto median = [&](auto field) {
        std::vector<std::remove_cvref_t<decltype(runs[0].*field)>> v;
        for (const auto& r : runs) v.push_back(r.*field);
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    run_result m;
    m.events_per_s = median(&run_result::events_per_s);
    m.p50_ns = median(&run_result::p50_ns);
    m.p90_ns = median(&run_result::p90_ns);
    m.p99_ns = median(&run_result::p99_ns);
    m.p999_ns = median(&run_result::p999_ns);
    m.max_ns = median(&run_result::max_ns);
    m.events = median(&run_result::events);
    m.gaps = median(&run_result::gaps);
    m.minor_faults = median(&run_result::minor_faults);
    m.involuntary_switches = median(&run_result::involuntary_switches);
    return m;
}

nlohmann::json to_json(const run_result& r) {
    return {{"events_per_s", static_cast<uint64_t>(r.events_per_s)},
            {"p50_ns", r.p50_ns},
            {"p90_ns", r.p90_ns},
            {"p99_ns", r.p99_ns},
            {"p999_ns", r.p999_ns},
            {"max_ns", r.max_ns},
            {"gaps", r.gaps},
            {"minor_faults", r.minor_faults},
            {"involuntary_switches", r.involuntary_switches}};
}

void print_row(uint32_t payload, const char* load, const run_result& r) {
    std::printf("%-8u %-6s %14.0f %9lu %9lu %9lu %10lu %11lu %7ld %7ld\n", payload, load,
                r.events_per_s, static_cast<unsigned long>(r.p50_ns),
                static_cast<unsigned long>(r.p90_ns), static_cast<unsigned long>(r.p99_ns),
                static_cast<unsigned long>(r.p999_ns), static_cast<unsigned long>(r.max_ns),
                r.minor_faults, r.involuntary_switches);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    bench_config cfg;
    CLI::App app{"In-process pipeline benchmark: producers -> dispatcher -> workers -> subscriber"};
    app.add_option("--producers", cfg.producers, "producer threads")->check(CLI::Range(1, 64));
    app.add_option("--workers", cfg.workers, "worker threads")->check(CLI::Range(1, 64));
    app.add_option("--partitions", cfg.partitions, "partitions (0: one per worker)");
    app.add_option("--batch", cfg.batch_events, "most events per publish call")
        ->check(CLI::Range(1, 4096));
    app.add_option("--payloads", cfg.payloads, "payload sizes in bytes (>= 8)");
    app.add_option("--duration-ms", cfg.duration_ms, "measured time per run");
    app.add_option("--warmup-ms", cfg.warmup_ms, "unmeasured time before each run");
    app.add_option("--repeats", cfg.repeats, "runs per point; the median is reported")
        ->check(CLI::Range(1, 99));
    app.add_option("--subscriber", cfg.subscriber,
                   "inline: the subscriber is called on the worker thread; thread: it polls a "
                   "feed from its own thread")
        ->check(CLI::IsMember({"inline", "thread"}));
    app.add_flag("!--no-pin", cfg.pin, "do not pin workers and producers to cores");
    app.add_option("--rate", cfg.rate,
                   "measure only at this fixed rate (events/s, all producers together)");
    CLI11_PARSE(app, argc, argv);
    for (uint32_t p : cfg.payloads) {
        if (p < 8) {
            std::cerr << "--payloads: each size must be at least 8 (the timestamp)\n";
            return 2;
        }
    }

    std::printf(
        "pipeline: producers=%u workers=%u partitions=%u batch=%u subscriber=%s "
        "cpus=%u repeats=%u duration_ms=%u\n",
        cfg.producers, cfg.workers, cfg.partitions ? cfg.partitions : cfg.workers, cfg.batch_events,
        cfg.subscriber.c_str(), std::thread::hardware_concurrency(), cfg.repeats, cfg.duration_ms);
    std::printf("%-8s %-6s %14s %9s %9s %9s %10s %11s %7s %7s\n", "payload", "load", "events/s",
                "p50_ns", "p90_ns", "p99_ns", "p99.9_ns", "max_ns", "faults", "preempt");
    const jitter_result jitter = measure_jitter(1000);
    std::printf(
        "machine jitter: a spinning thread loses %.2f%% of its time in %lu gaps/s "
        "(gap p50 %lu ns, p99 %lu ns)\n",
        jitter.lost_fraction * 100, static_cast<unsigned long>(jitter.gaps_per_s),
        static_cast<unsigned long>(jitter.gap_p50_ns),
        static_cast<unsigned long>(jitter.gap_p99_ns));
    nlohmann::json out = {{"bench", "pipeline"},
                          {"jitter",
                           {{"lost_fraction", jitter.lost_fraction},
                            {"gaps_per_s", jitter.gaps_per_s},
                            {"gap_p50_ns", jitter.gap_p50_ns},
                            {"gap_p99_ns", jitter.gap_p99_ns}}},
                          {"producers", cfg.producers},
                          {"workers", cfg.workers},
                          {"batch", cfg.batch_events},
                          {"subscriber", cfg.subscriber}};
    if (cfg.rate > 0) {
        for (uint32_t payload : cfg.payloads) {
            const run_result r = median_run(cfg, payload, cfg.rate);
            print_row(payload, "rate", r);
            out["payload_" + std::to_string(payload)] = {{"rate", to_json(r)}};
        }
        out["rate"] = cfg.rate;
        std::cout << out.dump() << std::endl;
        return 0;
    }
    for (uint32_t payload : cfg.payloads) {
        const run_result max = median_run(cfg, payload, 0);
        print_row(payload, "max", max);
        const run_result half = median_run(cfg, payload, max.events_per_s / 2);
        print_row(payload, "half", half);
        const std::string key = "payload_" + std::to_string(payload);
        out[key] = {{"max", to_json(max)}, {"half", to_json(half)}};
        if (payload == cfg.payloads.front()) {
            out["payload_bytes"] = payload;
            out["events_per_s"] = static_cast<uint64_t>(max.events_per_s);
            out["p99_ns_at_half_load"] = half.p99_ns;
        }
    }
    std::cout << out.dump() << std::endl;
    return 0;
}
