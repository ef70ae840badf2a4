// esctl bench: producer and consumer throughput and latency against a server. Producers stamp
// each payload with the send time (steady clock, this process), so that the ack latency is
// send-to-report and the consumers' end-to-end latency is send-to-poll. With --latency-every N
// only every Nth event's ack and receipt read the clock (as Kafka's producer-perf-test keeps
// every Nth latency); the rates then run to the last event timed.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cli/cli_common.h"
#include "cli/latency_summary.h"
#include "common/clock.h"
#include "common/pace.h"

namespace es::cli {

namespace {

// Payload: u64 send time (steady ns), u64 run id, then filler.
constexpr size_t payload_head_bytes = 16;

struct bench_args {
    std::string topic = "esctl-bench";
    uint64_t events = 100000;
    uint32_t size = 128;
    uint32_t batch = 10000;
    double linger_ms = 1;
    bool send_when_idle = false;
    uint32_t in_flight = 1;
    std::string acks = "leader";
    uint32_t producers = 1;
    uint32_t consumers = 0;
    double duration_s = 0;
    // Events per second over all producers; 0 sends as fast as the producer takes them.
    double rate = 0;
    uint32_t partitions = 1;
    std::string storage = "memory";  // of a topic bench creates
    uint32_t replication_factor = 1;
    // Latencies are timed for every this-many-th event (its ack and, with consumers, its
    // receipt); the others read no clock when they are reported or received.
    uint32_t latency_every = 1;
    bool progress = false;
    bool json = false;
};

struct producer_stats {
    std::vector<int64_t> ack_ns;  // written only by the producer's I/O thread until close()
    std::atomic<uint64_t> sent{0};
    std::atomic<uint64_t> acked{0};
    std::atomic<uint64_t> failed{0};
    std::atomic<int64_t> last_ack_ns{0};         // of the last ack timed
    std::atomic<uint64_t> acked_by_last_ack{0};  // acks up to and with it
    std::string first_error;                     // guarded by mu
    std::mutex mu;
};

struct consumer_stats {
    std::vector<int64_t> e2e_ns;  // the consumer's own thread
    std::atomic<uint64_t> received{0};
    int64_t first_ns = 0;
    int64_t last_ns = 0;               // of the last event timed
    uint64_t received_by_last_ns = 0;  // events up to and with it
    std::string error;
};

std::string progress_bar(double fraction, int width) {
    fraction = std::clamp(fraction, 0.0, 1.0);
    const int full = static_cast<int>(fraction * width);
    return "[" + std::string(full, '#') + std::string(width - full, '.') + "]";
}

std::string human_rate(double per_s) {
    char buf[32];
    if (per_s >= 1e6) {
        std::snprintf(buf, sizeof buf, "%.2fM", per_s / 1e6);
    } else if (per_s >= 1e3) {
        std::snprintf(buf, sizeof buf, "%.1fk", per_s / 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%.0f", per_s);
    }
    return buf;
}

int run_bench(const global_options& g, const bench_args& a) {
    auto ack = parse_acks(a.acks);
    if (!ack) {
        std::cerr << "esctl: --acks must be 0, leader or all, got '" << a.acks << "'\n";
        return exit_usage;
    }
    if (a.producers == 0 || (a.events == 0 && a.duration_s <= 0)) {
        std::cerr << "esctl: bench needs --producers >= 1 and --events or --duration\n";
        return exit_usage;
    }
    const size_t size = std::max<size_t>(a.size, payload_head_bytes);
    const auto conn = connection_for(g);
    {
        auto admin = eventstream::admin::connect(conn);
        if (!admin) return fail("connect to " + g.server, admin.err());
        auto t = (*admin)->describe_topic(a.topic);
        if (!t && t.err().code == eventstream::error_code::not_found) {
            eventstream::topic_config c;
            c.name = a.topic;
            c.partitions = a.partitions;
            c.storage = a.storage == "durable" ? eventstream::storage_kind::durable
                                               : eventstream::storage_kind::memory;
            c.replication_factor = static_cast<uint8_t>(a.replication_factor);
            auto created = (*admin)->create_topic(c);
            if (!created && created.err().code != eventstream::error_code::already_exists)
                return fail("create topic " + a.topic, created.err());
        } else if (!t) {
            return fail("describe topic " + a.topic, t.err());
        }
    }
    const uint64_t run_id = (uint64_t(::getpid()) << 32) ^ uint64_t(monotonic_ns());
    const bool show_progress = a.progress || ::isatty(STDERR_FILENO);
    const bool timed = a.duration_s > 0;
    const uint64_t per_producer = timed ? 0 : std::max<uint64_t>(a.events / a.producers, 1);
    const uint64_t expected = per_producer * a.producers;

    // Consumers first, from latest, so that they see every event of this run.
    std::vector<std::unique_ptr<consumer_stats>> cstats;
    std::vector<std::unique_ptr<eventstream::consumer>> consumers;
    const std::string group = "esctl-bench-" + std::to_string(run_id);
    for (uint32_t i = 0; i < a.consumers; ++i) {
        eventstream::consumer_options o;
        o.connection = conn;
        o.group = group;
        o.member_index = i;
        o.member_count = a.consumers;
        o.start = eventstream::start_position::latest();
        o.auto_commit = false;
        o.credit_events = 20000;
        o.credit_bytes = 32ull << 20;
        auto c = eventstream::consumer::create(o);
        if (!c) return fail("consumer", c.err());
        auto s = (*c)->subscribe(a.topic);
        if (!s) return fail("subscribe", s.err());
        consumers.push_back(std::move(*c));
        cstats.push_back(std::make_unique<consumer_stats>());
    }

    std::atomic<bool> producers_done{false};
    std::atomic<uint64_t> sent_total_final{0};
    std::vector<std::thread> consumer_threads;
    for (uint32_t i = 0; i < consumers.size(); ++i) {
        consumer_threads.emplace_back([&, i] {
            auto& c = *consumers[i];
            auto& st = *cstats[i];
            st.e2e_ns.reserve(timed ? 1 << 20 : expected / consumers.size() + 16);
            int64_t idle_since = 0;
            std::vector<eventstream::consumer_record> records;
            for (;;) {
                if (producers_done.load()) {
                    uint64_t total = 0;
                    for (auto& cs : cstats) total += cs->received.load();
                    if (total >= sent_total_final.load()) return;
                    if (idle_since && monotonic_ns() - idle_since > 5'000'000'000) return;
                }
                auto got = c.poll(records, 1024, 100);
                if (!got) {
                    st.error = got.err().to_string();
                    return;
                }
                if (*got == 0) {
                    if (!idle_since) idle_since = monotonic_ns();
                    continue;
                }
                idle_since = 0;
                for (const auto& rec : records) {
                    if (rec.kind != eventstream::record_kind::event ||
                        rec.value.size() < payload_head_bytes)
                        continue;
                    uint64_t sent_ns = 0, id = 0;
                    std::memcpy(&sent_ns, rec.value.data(), 8);
                    std::memcpy(&id, rec.value.data() + 8, 8);
                    if (id != run_id) continue;
                    const uint64_t n = st.received.load(std::memory_order_relaxed);
                    if (n % a.latency_every == 0) {
                        const int64_t t = monotonic_ns();
                        if (!st.first_ns) st.first_ns = t;
                        st.last_ns = t;
                        st.received_by_last_ns = n + 1;
                        st.e2e_ns.push_back(t - int64_t(sent_ns));
                    }
                    st.received.fetch_add(1, std::memory_order_relaxed);
                }
            }
        });
    }

    std::vector<std::unique_ptr<producer_stats>> pstats;
    std::vector<std::unique_ptr<eventstream::producer>> producers;
    for (uint32_t i = 0; i < a.producers; ++i) {
        eventstream::producer_options o;
        o.connection = conn;
        o.ack = *ack;
        o.batch_events_max = a.batch;
        o.linger_ms = a.linger_ms;
        o.send_when_idle = a.send_when_idle;
        o.max_in_flight_per_partition = a.in_flight;
        auto p = eventstream::producer::create(o);
        if (!p) return fail("producer", p.err());
        producers.push_back(std::move(*p));
        pstats.push_back(std::make_unique<producer_stats>());
        pstats.back()->ack_ns.reserve(timed ? 1 << 20 : per_producer);
    }

    const int64_t start = monotonic_ns();
    const int64_t deadline = timed ? start + int64_t(a.duration_s * 1e9) : 0;
    std::vector<std::thread> producer_threads;
    for (uint32_t i = 0; i < a.producers; ++i) {
        producer_threads.emplace_back([&, i] {
            auto& p = *producers[i];
            auto* st = pstats[i].get();
            std::string payload(size, 'x');
            std::memcpy(payload.data() + 8, &run_id, 8);
            // At a fixed rate each event is stamped with the time it was due, not the time it
            // went out, so a producer that falls behind shows in the latencies (no coordinated
            // omission).
            const double interval_ns = a.rate > 0 ? 1e9 * a.producers / a.rate : 0;
            for (uint64_t n = 0;; ++n) {
                // One clock read per event: it stamps the event and ends a timed run.
                int64_t t = monotonic_ns();
                if (timed ? t >= deadline : n >= per_producer) break;
                if (interval_ns > 0) {
                    t = start + static_cast<int64_t>(interval_ns * double(n));
                    if (timed && t >= deadline) break;
                    wait_until_monotonic_ns(t);
                }
                std::memcpy(payload.data(), &t, 8);
                // The payload is sent from this one buffer: send_copy copies it into the batch.
                eventstream::event_view e;
                e.value = payload;
                // 0: an event whose ack is not timed (t > 0 on the steady clock).
                const int64_t timed_from = n % a.latency_every == 0 ? t : 0;
                auto s = p.send_copy(
                    a.topic, e, [st, timed_from](const eventstream::delivery_result& r) {
                        if (r) {
                            const uint64_t acked =
                                st->acked.fetch_add(1, std::memory_order_relaxed) + 1;
                            if (timed_from != 0) {
                                const int64_t done = monotonic_ns();
                                st->ack_ns.push_back(done - timed_from);
                                st->acked_by_last_ack.store(acked, std::memory_order_relaxed);
                                st->last_ack_ns.store(done, std::memory_order_relaxed);
                            }
                        } else {
                            if (st->failed.fetch_add(1) == 0) {
                                std::lock_guard lk(st->mu);
                                st->first_error = r.err().to_string();
                            }
                        }
                    });
                if (!s) {
                    std::lock_guard lk(st->mu);
                    if (st->first_error.empty()) st->first_error = s.err().to_string();
                    st->failed.fetch_add(1);
                    break;
                }
                st->sent.fetch_add(1, std::memory_order_relaxed);
            }
            (void)p.flush(120000);
        });
    }

    std::atomic<bool> stop_progress{false};
    std::thread progress;
    if (show_progress) {
        progress = std::thread([&] {
            uint64_t last = 0;
            int64_t last_t = start;
            while (!stop_progress.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
                uint64_t acked = 0, received = 0;
                for (auto& s : pstats) acked += s->acked.load();
                for (auto& s : cstats) received += s->received.load();
                const int64_t t = monotonic_ns();
                const double fraction = timed ? double(t - start) / double(deadline - start)
                                              : double(acked) / double(expected);
                const double rate =
                    double(acked - last) * 1e9 / double(std::max<int64_t>(t - last_t, 1));
                last = acked;
                last_t = t;
                std::cerr << "\r" << progress_bar(fraction, 30) << " " << int(fraction * 100)
                          << "%  acked " << acked << "  " << human_rate(rate) << " ev/s";
                if (!cstats.empty()) std::cerr << "  consumed " << received;
                std::cerr << "   " << std::flush;
            }
            std::cerr << "\r" << std::string(100, ' ') << "\r" << std::flush;
        });
    }

    for (auto& t : producer_threads) t.join();
    uint64_t sent = 0;
    for (auto& s : pstats) sent += s->sent.load();
    sent_total_final.store(sent);
    producers_done.store(true);
    for (auto& p : producers) (void)p->close();
    for (auto& t : consumer_threads) t.join();
    stop_progress.store(true);
    if (progress.joinable()) progress.join();
    for (auto& c : consumers) (void)c->close();

    // Figures.
    // The rates count the events up to the last one timed (all of them when every event is
    // timed), over the time from the start to it.
    uint64_t acked = 0, failed = 0, acked_timed = 0;
    int64_t last_ack = start;
    std::vector<int64_t> ack_samples;
    std::string first_error;
    for (auto& s : pstats) {
        acked += s->acked.load();
        failed += s->failed.load();
        last_ack = std::max(last_ack, s->last_ack_ns.load());
        acked_timed += s->acked_by_last_ack.load();
        ack_samples.insert(ack_samples.end(), s->ack_ns.begin(), s->ack_ns.end());
        if (first_error.empty()) first_error = s->first_error;
    }
    uint64_t received = 0, received_timed = 0;
    int64_t first_recv = 0, last_recv = 0;
    std::vector<int64_t> e2e_samples;
    for (auto& s : cstats) {
        received += s->received.load();
        if (s->first_ns && (!first_recv || s->first_ns < first_recv)) first_recv = s->first_ns;
        last_recv = std::max(last_recv, s->last_ns);
        received_timed += s->received_by_last_ns;
        e2e_samples.insert(e2e_samples.end(), s->e2e_ns.begin(), s->e2e_ns.end());
        if (first_error.empty() && !s->error.empty()) first_error = s->error;
    }
    const double produce_s = double(std::max<int64_t>(last_ack - start, 1)) / 1e9;
    const double consume_s = double(std::max<int64_t>(last_recv - start, 1)) / 1e9;
    const double produce_rate = double(acked_timed) / produce_s;
    const double consume_rate = double(received_timed) / consume_s;
    auto ack_summary = summarize(ack_samples);
    auto e2e_summary = summarize(e2e_samples);

    if (a.json) {
        nlohmann::json j = {
            {"topic", a.topic},
            {"producers", a.producers},
            {"consumers", a.consumers},
            {"size_bytes", size},
            {"acks", a.acks},
            {"batch_events_max", a.batch},
            {"linger_ms", a.linger_ms},
            {"send_when_idle", a.send_when_idle},
            {"in_flight", a.in_flight},
            {"rate", a.rate},
            {"latency_every", a.latency_every},
            {"events_sent", sent},
            {"events_acked", acked},
            {"events_failed", failed},
            {"produce",
             {{"seconds", produce_s},
              {"events_per_s", produce_rate},
              {"mb_per_s", produce_rate * double(size) / 1e6},
              {"ack_latency", summary_json(ack_summary)}}},
        };
        if (a.consumers)
            j["consume"] = {{"events", received},
                            {"seconds", consume_s},
                            {"events_per_s", consume_rate},
                            {"mb_per_s", consume_rate * double(size) / 1e6},
                            {"end_to_end_latency", summary_json(e2e_summary)}};
        if (!first_error.empty()) j["first_error"] = first_error;
        std::cout << j.dump(2) << "\n";
    } else {
        char line[200];
        std::snprintf(line, sizeof line,
                      "produce: %llu events acked (%llu failed) in %.2f s: %s ev/s, %.1f MB/s\n",
                      static_cast<unsigned long long>(acked),
                      static_cast<unsigned long long>(failed), produce_s,
                      human_rate(produce_rate).c_str(), produce_rate * double(size) / 1e6);
        std::cout << line;
        std::cout << "  ack latency (send to report, acks=" << a.acks
                  << "): " << format_summary(ack_summary) << "\n"
                  << ascii_histogram(ack_samples);
        if (a.consumers) {
            std::snprintf(line, sizeof line, "consume: %llu events in %.2f s: %s ev/s, %.1f MB/s\n",
                          static_cast<unsigned long long>(received), consume_s,
                          human_rate(consume_rate).c_str(), consume_rate * double(size) / 1e6);
            std::cout << line;
            std::cout << "  end-to-end latency (send to poll): " << format_summary(e2e_summary)
                      << "\n"
                      << ascii_histogram(e2e_samples);
        }
    }
    if (!first_error.empty()) std::cerr << "esctl: bench: first error: " << first_error << "\n";
    const bool lost = a.consumers && received < acked;
    if (lost) std::cerr << "esctl: bench: consumers got " << received << " of " << acked << "\n";
    return failed || lost || acked == 0 ? exit_error : exit_ok;
}

}  // namespace

void add_bench_command(CLI::App& app, const global_options& g, command_run& selected) {
    auto a = std::make_shared<bench_args>();
    auto* cmd = app.add_subcommand("bench", "Measure producer and consumer throughput and latency");
    cmd->add_option("--topic", a->topic, "Topic (created when missing)")->capture_default_str();
    cmd->add_option("--storage", a->storage,
                    "Storage of a topic bench creates: memory or durable (a cluster takes "
                    "durable topics only)")
        ->check(CLI::IsMember({"memory", "durable"}))
        ->capture_default_str();
    cmd->add_option("--replication-factor", a->replication_factor,
                    "Replicas per partition of a topic bench creates (1-5)")
        ->check(CLI::Range(1u, 5u))
        ->capture_default_str();
    cmd->add_option("--partitions", a->partitions, "Partitions of a topic bench creates")
        ->capture_default_str();
    cmd->add_option("-n,--events", a->events, "Events in all, shared by the producers")
        ->capture_default_str();
    cmd->add_option("-s,--size", a->size, "Payload bytes (at least 16: the send time and run id)")
        ->capture_default_str();
    cmd->add_option("--batch", a->batch, "Producer batch cap in events")->capture_default_str();
    cmd->add_option("--linger-ms", a->linger_ms,
                    "Producer linger in ms (fractions count: 0.25 is 250 us)")
        ->check(CLI::Range(0.0, 900000.0))
        ->capture_default_str();
    cmd->add_flag("--send-when-idle", a->send_when_idle,
                  "A partition with no batch out sends at once; batches linger only while one "
                  "is out (Nagle's rule)");
    cmd->add_option("--in-flight", a->in_flight,
                    "Batches of one partition a producer has on the wire at once (more than 1 "
                    "may reorder events when a batch is retried)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 64u));
    cmd->add_option("--rate", a->rate,
                    "Events per second over all producers (0: as fast as possible); latencies "
                    "then count from each event's due time");
    cmd->add_option("--acks", a->acks, "0, leader or all")->capture_default_str();
    cmd->add_option("--producers", a->producers, "Producer threads, one connection each")
        ->capture_default_str();
    cmd->add_option("--consumers", a->consumers,
                    "Consumers (one group, static assignment); 0: produce only")
        ->capture_default_str();
    cmd->add_option("-d,--duration", a->duration_s,
                    "Seconds to produce for, instead of a count of events");
    cmd->add_option("--latency-every", a->latency_every,
                    "Time the latency of every Nth event only (ack and end to end), so that "
                    "the clock reads of timing every event stay out of the throughput")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1000000u));
    cmd->add_flag("--progress", a->progress, "Show the progress bar even when stderr is no tty");
    cmd->add_flag("--json", a->json, "Print the results as one JSON object");
    cmd->callback([&g, &selected, a] { selected = [&g, a] { return run_bench(g, *a); }; });
}

}  // namespace es::cli
