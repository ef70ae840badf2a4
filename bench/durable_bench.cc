// Durable publish benchmark: the engine with the RocksDB store behind it, in one process, on
// the real disk. For each fsync policy and payload size it prints
//   - throughput: events/s acknowledged (acks after the write is durable under the policy),
//     with batches of --batch events and up to --window batches in flight;
//   - ack latency at a fixed rate (--load times the measured maximum): p50/p99/p99.9 from the
//     time each batch was *due* to the time it was acknowledged (no coordinated omission).
// Each figure is the median of --repeats runs. The last line is one JSON object.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/pace.h"
#include "core/engine.h"
#include "metrics/histogram.h"
#include "storage/log_store.h"
#include "storage/store_service.h"

namespace {

using namespace es;

struct bench_config {
    std::string dir = "build/bench-data/durable";
    std::vector<std::string> fsync{"always", "interval"};
    uint32_t fsync_interval_ms = 100;
    std::vector<uint32_t> payloads{128, 1024};
    uint32_t batch = 100;
    uint32_t window = 64;
    uint32_t partitions = 1;
    uint32_t workers = 1;
    uint32_t duration_ms = 3000;
    uint32_t warmup_ms = 500;
    uint32_t repeats = 3;
    double load = 0.5;
    bool keep = false;
    bool verbose = false;
};

// One batch in flight: when it was due, for its ack latency.
struct flight {
    int64_t due_ns = 0;
    struct run_state* run = nullptr;
};

struct run_state {
    std::atomic<uint64_t> acked_events{0};
    std::atomic<uint64_t> failed{0};
    std::atomic<int64_t> in_flight{0};
    std::atomic<bool> measuring{false};
    metrics::histogram latency_ns;
};

void on_ack(void* ctx, const core::publish_outcome& o) {
    auto* f = static_cast<flight*>(ctx);
    run_state& r = *f->run;
    if (o.code != errc::ok) {
        r.failed++;
    } else {
        if (r.measuring.load(std::memory_order_relaxed)) {
            r.latency_ns.record(static_cast<uint64_t>(monotonic_ns() - f->due_ns));
            r.acked_events.fetch_add(o.count, std::memory_order_relaxed);
        }
    }
    r.in_flight.fetch_sub(1, std::memory_order_release);
}

struct result_row {
    double events_per_s = 0;
    uint64_t p50_ns = 0, p99_ns = 0, p999_ns = 0;
};

// Publishes for warmup + duration; at `rate` batches/s when rate > 0, else as fast as the
// window allows.
result_row drive(core::engine& e, const core::topic_ptr& t, const bench_config& c, uint32_t payload,
                 double batches_per_s) {
    run_state r;
    const uint32_t slots = c.window * 4;
    std::vector<flight> flights(slots);
    for (auto& f : flights) f.run = &r;
    std::string body(payload, 'x');
    std::vector<core::event_in> events(c.batch, core::event_in::without_key(body));
    core::publish_options po;
    po.on_full = core::backpressure::block;
    uint64_t sent = 0;
    const int64_t start = monotonic_ns();
    const int64_t measure_from = start + int64_t{c.warmup_ms} * 1'000'000;
    const int64_t end = measure_from + int64_t{c.duration_ms} * 1'000'000;
    const double interval_ns = batches_per_s > 0 ? 1e9 / batches_per_s : 0;
    int64_t measured_start = 0;
    for (;;) {
        int64_t now = monotonic_ns();
        if (now >= end) break;
        if (!r.measuring.load(std::memory_order_relaxed) && now >= measure_from) {
            r.measuring.store(true);
            measured_start = now;
        }
        int64_t due = now;
        if (interval_ns > 0) {
            // Sleep rather than spin while the next batch is far off: on a small machine a
            // spinning publisher takes the core the store's threads need.
            due = start + static_cast<int64_t>(interval_ns * static_cast<double>(sent));
            now = wait_until_monotonic_ns(due);
        }
        while (r.in_flight.load(std::memory_order_acquire) >= static_cast<int64_t>(c.window)) {
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
        flight& f = flights[sent % slots];
        f.due_ns = due;
        r.in_flight.fetch_add(1, std::memory_order_relaxed);
        po.partition = static_cast<uint32_t>(sent % c.partitions);
        auto res = e.publish(t, events, po, {&on_ack, &f});
        if (!res) {
            r.in_flight.fetch_sub(1);
            std::cerr << "publish failed: " << res.err().message << "\n";
            std::exit(1);
        }
        ++sent;
    }
    const int64_t measured_ns = monotonic_ns() - measured_start;
    r.measuring.store(false);
    while (r.in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (r.failed.load() > 0) {
        std::cerr << r.failed.load() << " batches failed\n";
        std::exit(1);
    }
    result_row row;
    row.events_per_s = static_cast<double>(r.acked_events.load()) * 1e9 /
                       static_cast<double>(std::max<int64_t>(measured_ns, 1));
    const auto snap = r.latency_ns.snapshot();
    row.p50_ns = snap.quantile(0.5);
    row.p99_ns = snap.quantile(0.99);
    row.p999_ns = snap.quantile(0.999);
    return row;
}

template <class T>
T median(std::vector<T> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

std::string us(uint64_t ns) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", static_cast<double>(ns) / 1000.0);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    bench_config c;
    CLI::App app{"Durable publish throughput and ack latency (engine + RocksDB store)"};
    app.add_option("--dir", c.dir, "directory for the store (must be on the disk measured)");
    app.add_option("--fsync", c.fsync, "fsync policies to run: always, interval, never")
        ->delimiter(',');
    app.add_option("--fsync-interval-ms", c.fsync_interval_ms, "interval of fsync=interval");
    app.add_option("--payloads", c.payloads, "payload sizes in bytes")->delimiter(',');
    app.add_option("--batch", c.batch, "events per publish call");
    app.add_option("--window", c.window, "publish batches in flight at most");
    app.add_option("--partitions", c.partitions, "partitions of the topic");
    app.add_option("--workers", c.workers, "engine workers");
    app.add_option("--duration-ms", c.duration_ms, "measured time per run");
    app.add_option("--warmup-ms", c.warmup_ms, "unmeasured time before each run");
    app.add_option("--repeats", c.repeats, "runs per figure (the median is printed)");
    app.add_option("--load", c.load, "fixed rate for the latency run, as a fraction of the max");
    app.add_flag("--verbose", c.verbose, "also print the store's write latency per run");
    app.add_flag("--keep", c.keep, "leave the last run's store in --dir (to read RocksDB's LOG)");
    CLI11_PARSE(app, argc, argv);

    nlohmann::json out = nlohmann::json::array();
    std::cout << "fsync     payload  max events/s  MB/s    | at " << c.load * 100
              << "% load: p50 us   p99 us   p99.9 us\n";
    for (const auto& policy_name : c.fsync) {
        auto policy = storage::parse_fsync_policy(policy_name);
        if (!policy) {
            std::cerr << policy.err().message << "\n";
            return 2;
        }
        for (uint32_t payload : c.payloads) {
            std::vector<double> rates;
            std::vector<uint64_t> p50, p99, p999;
            for (uint32_t rep = 0; rep < c.repeats; ++rep) {
                std::filesystem::remove_all(c.dir);
                std::filesystem::create_directories(c.dir);
                storage::store_options so;
                so.path = c.dir + "/store";
                auto store = storage::log_store::open(so);
                if (!store) {
                    std::cerr << store.err().message << "\n";
                    return 1;
                }
                storage::store_service_options sso;
                sso.fsync = *policy;
                sso.fsync_interval_ms = c.fsync_interval_ms;
                storage::store_service service(**store, sso);
                service.start();
                core::engine_options eo;
                eo.workers = c.workers;
                eo.durable = &service;
                core::engine e(eo);
                e.start();
                core::topic_config tc;
                tc.name = "bench";
                tc.partitions = c.partitions;
                tc.storage = core::storage_mode::durable;
                tc.retention_bytes = 1ull << 40;
                if (auto t = e.create_topic(tc); !t) {
                    std::cerr << t.err().message << "\n";
                    return 1;
                }
                auto t = *e.find_topic("bench");
                const result_row max = drive(e, t, c, payload, 0);
                const double batches_per_s = max.events_per_s * c.load / c.batch;
                const auto writes_before = service.write_latency_ns().snapshot();
                const result_row fixed = drive(e, t, c, payload, batches_per_s);
                const auto writes = service.write_latency_ns().snapshot();
                if (c.verbose) {
                    std::printf(
                        "  store writes during the fixed-rate run: %llu, p50 %s us, p99 %s "
                        "us, max %s us (whole run so far: %llu writes before)\n",
                        static_cast<unsigned long long>(writes.count()),
                        us(writes.quantile(0.5)).c_str(), us(writes.quantile(0.99)).c_str(),
                        us(writes.max()).c_str(),
                        static_cast<unsigned long long>(writes_before.count()));
                }
                rates.push_back(max.events_per_s);
                p50.push_back(fixed.p50_ns);
                p99.push_back(fixed.p99_ns);
                p999.push_back(fixed.p999_ns);
                e.stop();
                service.stop();
            }
            const double rate = median(rates);
            std::printf("%-9s %7u  %12.0f  %6.1f  |            %8s %8s %9s\n", policy_name.c_str(),
                        payload, rate, rate * payload / 1e6, us(median(p50)).c_str(),
                        us(median(p99)).c_str(), us(median(p999)).c_str());
            std::fflush(stdout);
            out.push_back({{"fsync", policy_name},
                           {"payload", payload},
                           {"events_per_s", rate},
                           {"load", c.load},
                           {"p50_ns", median(p50)},
                           {"p99_ns", median(p99)},
                           {"p999_ns", median(p999)},
                           {"batch", c.batch},
                           {"window", c.window}});
        }
    }
    if (!c.keep) std::filesystem::remove_all(c.dir);
    std::cout << nlohmann::json{{"durable", out}}.dump() << "\n";
    return 0;
}
