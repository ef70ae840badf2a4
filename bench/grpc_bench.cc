// gRPC benchmark against a running node (scripts/bench grpc starts one):
//   unary-max    SubmitEvent, up to --window calls in flight: calls/s
//   unary-rate   SubmitEvent at --rate calls/s: latency p50/p99/p99.9 from when each call was
//                due to its answer (no coordinated omission)
//   stream       StreamEvents, one stream, --size payloads: events/s acknowledged
//   floor        unary-rate against a gRPC server in this process that answers SubmitEvent at
//                once (no engine behind it): what gRPC itself costs per call on this machine
// Each prints a line; the last line is one JSON object with every figure.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/pace.h"
#include "eventstream/v1/event_service.grpc.pb.h"
#include "metrics/histogram.h"

namespace {

namespace v1 = eventstream::v1;

struct bench_config {
    std::string target = "127.0.0.1:8081";
    std::string topic = "grpc-bench";
    uint32_t size = 128;
    uint32_t duration_ms = 3000;
    uint32_t warmup_ms = 500;
    uint32_t window = 64;
    uint32_t batch = 100;  // stream: events per EventRequest (1: one event per message)
    double rate = 0;       // 0: half of the unary maximum
    std::string modes = "unary-max,unary-rate,stream";
    std::string acks = "leader";  // none | leader | all
    uint32_t sync_threads = 0;    // unary-rate: 0 = callback API; N = N threads of blocking calls
};

v1::Acks acks_of(const std::string& name) {
    if (name == "none") return v1::ACKS_NONE;
    if (name == "all") return v1::ACKS_ALL;
    return v1::ACKS_LEADER;
}

struct unary_run {
    std::atomic<int64_t> in_flight{0};
    std::atomic<uint64_t> done{0};
    std::atomic<uint64_t> failed{0};
    std::atomic<bool> measuring{false};
    es::metrics::histogram latency_ns;
};

struct unary_call {
    grpc::ClientContext ctx;
    v1::EventRequest req;
    v1::EventResponse resp;
    int64_t due_ns = 0;
};

// Sends SubmitEvent calls for warmup + duration: paced at `rate` when > 0, else as fast as
// `window` calls in flight allow. Returns calls/s answered in the measured time.
double run_unary(v1::EventService::Stub& stub, const bench_config& c, double rate, unary_run& r) {
    const std::string payload(c.size, 'x');
    const int64_t start = es::monotonic_ns();
    const int64_t measure_from = start + int64_t{c.warmup_ms} * 1'000'000;
    const int64_t end = measure_from + int64_t{c.duration_ms} * 1'000'000;
    const double interval = rate > 0 ? 1e9 / rate : 0;
    uint64_t sent = 0;
    uint64_t done_at_start = 0;
    int64_t measured_start = 0;
    for (;;) {
        int64_t now = es::monotonic_ns();
        if (now >= end) break;
        if (!r.measuring.load() && now >= measure_from) {
            done_at_start = r.done.load();
            measured_start = now;
            r.measuring.store(true);
        }
        int64_t due = now;
        if (interval > 0) {
            due = start + static_cast<int64_t>(interval * static_cast<double>(sent));
            now = es::wait_until_monotonic_ns(due);
        } else {
            while (r.in_flight.load() >= static_cast<int64_t>(c.window)) {
                std::this_thread::yield();
            }
        }
        auto* call = new unary_call;
        call->due_ns = due;
        call->req.set_topic(c.topic);
        call->req.set_payload(payload);
        call->req.set_acks(acks_of(c.acks));
        call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        r.in_flight++;
        stub.async()->SubmitEvent(&call->ctx, &call->req, &call->resp, [call, &r](grpc::Status s) {
            if (!s.ok()) {
                r.failed++;
            } else if (r.measuring.load(std::memory_order_relaxed)) {
                r.latency_ns.record(static_cast<uint64_t>(es::monotonic_ns() - call->due_ns));
            }
            r.done++;
            r.in_flight--;
            delete call;
        });
        ++sent;
    }
    const uint64_t answered = r.done.load() - done_at_start;
    const int64_t measured_ns = es::monotonic_ns() - measured_start;
    r.measuring.store(false);
    while (r.in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return static_cast<double>(answered) * 1e9 / static_cast<double>(measured_ns);
}

// unary-rate with blocking calls: `threads` callers take the next due time in turn, wait for
// it and call. A call that starts late because every caller was busy is still timed from its
// due time. Returns calls/s answered in the measured time.
double run_unary_sync(v1::EventService::Stub& stub, const bench_config& c, double rate,
                      unary_run& r) {
    const std::string payload(c.size, 'x');
    const int64_t start = es::monotonic_ns();
    const int64_t measure_from = start + int64_t{c.warmup_ms} * 1'000'000;
    const int64_t end = measure_from + int64_t{c.duration_ms} * 1'000'000;
    const double interval = 1e9 / rate;
    std::atomic<uint64_t> next{0};
    std::atomic<uint64_t> measured{0};
    std::vector<std::thread> callers;
    for (uint32_t t = 0; t < c.sync_threads; ++t) {
        callers.emplace_back([&] {
            v1::EventRequest req;
            req.set_topic(c.topic);
            req.set_payload(payload);
            req.set_acks(acks_of(c.acks));
            for (;;) {
                const uint64_t i = next.fetch_add(1);
                const int64_t due = start + static_cast<int64_t>(interval * static_cast<double>(i));
                if (due >= end) return;
                es::wait_until_monotonic_ns(due);
                grpc::ClientContext ctx;
                ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
                v1::EventResponse resp;
                const auto s = stub.SubmitEvent(&ctx, req, &resp);
                if (!s.ok()) {
                    r.failed++;
                } else if (due >= measure_from) {
                    r.latency_ns.record(static_cast<uint64_t>(es::monotonic_ns() - due));
                    measured++;
                }
            }
        });
    }
    for (auto& t : callers) t.join();
    return static_cast<double>(measured.load()) * 1e9 / static_cast<double>(end - measure_from);
}

// The floor: EventService with only SubmitEvent, on gRPC's completion-queue API with one
// thread, answering every call at once with an empty response. Nothing of ours is behind it.
class floor_server {
  public:
    floor_server() {
        grpc::ServerBuilder builder;
        builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
        builder.RegisterService(&service_);
        cq_ = builder.AddCompletionQueue();
        server_ = builder.BuildAndStart();
        for (int i = 0; i < 8; ++i) await();
        thread_ = std::thread([this] { serve(); });
    }
    ~floor_server() {
        server_->Shutdown(std::chrono::system_clock::now());
        cq_->Shutdown();
        thread_.join();
    }
    std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

  private:
    struct call {
        grpc::ServerContext ctx;
        v1::EventRequest request;
        v1::EventResponse response;
        grpc::ServerAsyncResponseWriter<v1::EventResponse> writer{&ctx};
        bool answered = false;
    };
    void await() {
        auto* c = new call;
        service_.RequestSubmitEvent(&c->ctx, &c->request, &c->writer, cq_.get(), cq_.get(), c);
    }
    void serve() {
        void* tag = nullptr;
        bool ok = false;
        bool open = true;
        while (cq_->Next(&tag, &ok)) {
            auto* c = static_cast<call*>(tag);
            if (c->answered || !ok) {
                if (!ok) open = false;
                delete c;
                continue;
            }
            if (open) await();
            c->answered = true;
            c->writer.Finish(c->response, grpc::Status::OK, c);
        }
    }

    v1::EventService::AsyncService service_;
    int port_ = 0;
    std::unique_ptr<grpc::ServerCompletionQueue> cq_;
    std::unique_ptr<grpc::Server> server_;
    std::thread thread_;
};

// One StreamEvents stream: a writer thread sends as fast as gRPC's flow control lets it, this
// thread reads the answers. Returns events/s answered in the measured time.
double run_stream(v1::EventService::Stub& stub, const bench_config& c, uint64_t& failed) {
    grpc::ClientContext ctx;
    auto stream = stub.StreamEvents(&ctx);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        v1::EventRequest req;
        req.set_topic(c.topic);
        req.set_acks(acks_of(c.acks));
        if (c.batch <= 1) {
            req.set_payload(std::string(c.size, 'x'));
        } else {
            for (uint32_t k = 0; k < c.batch; ++k) {
                req.add_batch()->set_payload(std::string(c.size, 'x'));
            }
        }
        uint64_t i = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            req.set_correlation_id(i++);
            if (!stream->Write(req)) break;
        }
        stream->WritesDone();
    });
    const int64_t start = es::monotonic_ns();
    const int64_t measure_from = start + int64_t{c.warmup_ms} * 1'000'000;
    const int64_t end = measure_from + int64_t{c.duration_ms} * 1'000'000;
    uint64_t answered = 0, at_start = 0;
    int64_t measured_start = 0, measured_end = 0;
    v1::EventResponse r;
    uint64_t reads = 0;
    while (stream->Read(&r)) {
        answered += r.batch_size() > 0 ? static_cast<uint64_t>(r.batch_size()) : 1;
        if (r.status_code() != 0) ++failed;
        if ((++reads & 15) == 0) {
            const int64_t now = es::monotonic_ns();
            if (measured_start == 0 && now >= measure_from) {
                measured_start = now;
                at_start = answered;
            }
            if (now >= end && measured_end == 0) {
                measured_end = now;
                stop.store(true);
                break;
            }
        }
    }
    const uint64_t counted = answered - at_start;
    stop.store(true);
    ctx.TryCancel();
    writer.join();
    (void)stream->Finish();
    return static_cast<double>(counted) * 1e9 /
           static_cast<double>(std::max<int64_t>(measured_end - measured_start, 1));
}

std::string us(uint64_t ns) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", static_cast<double>(ns) / 1000.0);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    bench_config c;
    CLI::App app{"gRPC benchmark: SubmitEvent latency and rate, StreamEvents throughput"};
    app.add_option("--target", c.target, "host:port of the node's gRPC port");
    app.add_option("--topic", c.topic, "topic to publish to (created as a memory topic)");
    app.add_option("--size", c.size, "payload bytes");
    app.add_option("--duration-ms", c.duration_ms, "measured time per mode");
    app.add_option("--warmup-ms", c.warmup_ms, "unmeasured time first");
    app.add_option("--window", c.window, "unary-max: calls in flight");
    app.add_option("--rate", c.rate, "unary-rate: calls/s (0: half the unary maximum)");
    app.add_option("--batch", c.batch, "stream: events per EventRequest (batch field)");
    app.add_option("--modes", c.modes, "comma-separated: unary-max, unary-rate, floor, stream");
    app.add_option("--acks", c.acks, "acks of every publish")
        ->check(CLI::IsMember({"none", "leader", "all"}));
    app.add_option("--sync-threads", c.sync_threads,
                   "unary-rate: 0 uses the callback API; N uses N threads of blocking calls");
    CLI11_PARSE(app, argc, argv);

    auto channel = grpc::CreateChannel(c.target, grpc::InsecureChannelCredentials());
    auto stub = v1::EventService::NewStub(channel);
    {
        grpc::ClientContext ctx;
        v1::CreateTopicRequest req;
        req.mutable_config()->set_name(c.topic);
        v1::TopicInfo info;
        const auto s = stub->CreateTopic(&ctx, req, &info);
        if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
            std::cerr << "grpc_bench: cannot create " << c.topic << ": " << s.error_message()
                      << "\n";
            return 1;
        }
    }
    nlohmann::json out{{"system", "eventstream-grpc"}, {"size", c.size}};
    double unary_max = 0;
    const bool want_rate = c.modes.find("unary-rate") != std::string::npos;
    if (c.modes.find("unary-max") != std::string::npos || (want_rate && c.rate == 0)) {
        unary_run r;
        unary_max = run_unary(*stub, c, 0, r);
        const auto snap = r.latency_ns.snapshot();
        std::printf("unary-max   %10.0f calls/s  (window %u; p50 %s us, p99 %s us)\n", unary_max,
                    c.window, us(snap.quantile(0.5)).c_str(), us(snap.quantile(0.99)).c_str());
        out["unary_max_per_s"] = unary_max;
        out["unary_failed"] = r.failed.load();
    }
    if (want_rate) {
        const double rate = c.rate > 0 ? c.rate : unary_max / 2;
        unary_run r;
        const double achieved =
            c.sync_threads > 0 ? run_unary_sync(*stub, c, rate, r) : run_unary(*stub, c, rate, r);
        const auto snap = r.latency_ns.snapshot();
        std::printf("unary-rate  %10.0f calls/s  p50 %s us  p99 %s us  p99.9 %s us\n", achieved,
                    us(snap.quantile(0.5)).c_str(), us(snap.quantile(0.99)).c_str(),
                    us(snap.quantile(0.999)).c_str());
        out["unary_rate"] = rate;
        out["unary_p50_ns"] = snap.quantile(0.5);
        out["unary_p99_ns"] = snap.quantile(0.99);
        out["unary_p999_ns"] = snap.quantile(0.999);
    }
    if (c.modes.find("floor") != std::string::npos) {
        floor_server floor;
        auto floor_stub = v1::EventService::NewStub(
            grpc::CreateChannel(floor.target(), grpc::InsecureChannelCredentials()));
        const double rate = c.rate > 0 ? c.rate : 2000;
        unary_run r;
        const double achieved = c.sync_threads > 0 ? run_unary_sync(*floor_stub, c, rate, r)
                                                   : run_unary(*floor_stub, c, rate, r);
        const auto snap = r.latency_ns.snapshot();
        std::printf("floor       %10.0f calls/s  p50 %s us  p99 %s us  p99.9 %s us  (gRPC alone)\n",
                    achieved, us(snap.quantile(0.5)).c_str(), us(snap.quantile(0.99)).c_str(),
                    us(snap.quantile(0.999)).c_str());
        out["floor_p50_ns"] = snap.quantile(0.5);
        out["floor_p99_ns"] = snap.quantile(0.99);
        out["floor_p999_ns"] = snap.quantile(0.999);
    }
    if (c.modes.find("stream") != std::string::npos) {
        uint64_t failed = 0;
        const double rate = run_stream(*stub, c, failed);
        std::printf("stream      %10.0f events/s acknowledged (%u B, %u per message)\n", rate,
                    c.size, c.batch);
        out["stream_batch"] = c.batch;
        out["stream_per_s"] = rate;
        out["stream_failed"] = failed;
    }
    std::cout << out.dump() << "\n";
    return 0;
}
