// esctl produce: one event per line of stdin or a file, raw (optionally "key<sep>value") or
// JSON ({"key": .., "value": .., "headers": {..}}).
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/cli_common.h"
#include "cli/line_format.h"

namespace es::cli {

namespace {

struct produce_args {
    std::string topic;
    std::string file;
    std::string key_separator;
    std::string format = "raw";
    std::string acks = "leader";
    int64_t partition = -1;
    double linger_ms = 5;
    bool send_when_idle = false;
    uint32_t batch = 10000;
    bool idempotent = false;
};

int run_produce(const global_options& g, const produce_args& a) {
    auto ack = parse_acks(a.acks);
    if (!ack) {
        std::cerr << "esctl: --acks must be 0, leader or all, got '" << a.acks << "'\n";
        return exit_usage;
    }
    std::ifstream file;
    std::istream* in = &std::cin;
    if (!a.file.empty() && a.file != "-") {
        file.open(a.file);
        if (!file) {
            std::cerr << "esctl: cannot open " << a.file << "\n";
            return exit_error;
        }
        in = &file;
    }
    eventstream::producer_options o;
    o.connection = connection_for(g);
    o.ack = *ack;
    o.linger_ms = a.linger_ms;
    o.send_when_idle = a.send_when_idle;
    o.batch_events_max = a.batch;
    o.idempotent = a.idempotent;
    auto p = eventstream::producer::create(o);
    if (!p) return fail("connect to " + g.server, p.err());
    std::optional<uint32_t> partition;
    if (a.partition >= 0) partition = static_cast<uint32_t>(a.partition);

    auto failures = std::make_shared<std::atomic<uint64_t>>(0);
    auto first_failure = std::make_shared<std::string>();
    auto failure_mu = std::make_shared<std::mutex>();
    uint64_t sent = 0;
    uint64_t line_no = 0;
    std::string line;
    while (std::getline(*in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        auto e = a.format == "json" ? parse_json_line(line) : parse_raw_line(line, a.key_separator);
        if (!e) {
            std::cerr << "esctl: line " << line_no << ": " << e.err().message << "\n";
            return exit_usage;
        }
        auto s = (*p)->send(
            a.topic, std::move(*e),
            [failures, first_failure, failure_mu](const eventstream::delivery_result& r) {
                if (r) return;
                if (failures->fetch_add(1) == 0) {
                    std::lock_guard lk(*failure_mu);
                    *first_failure = r.err().to_string();
                }
            },
            partition);
        if (!s)
            return fail("produce to " + a.topic + " (line " + std::to_string(line_no) + ")",
                        s.err());
        ++sent;
    }
    if (in->bad()) {
        std::cerr << "esctl: reading input failed\n";
        return exit_error;
    }
    auto closed = (*p)->close();
    if (!closed) return fail("flush", closed.err());
    if (*failures > 0) {
        std::lock_guard lk(*failure_mu);
        std::cerr << "esctl: " << failures->load() << " of " << sent
                  << " events were not delivered; first error: " << *first_failure << "\n";
        return exit_error;
    }
    std::cerr << "produced " << sent << " events to " << a.topic << "\n";
    return exit_ok;
}

}  // namespace

void add_produce_command(CLI::App& app, const global_options& g, command_run& selected) {
    auto a = std::make_shared<produce_args>();
    auto* cmd = app.add_subcommand("produce", "Publish one event per input line");
    cmd->add_option("topic", a->topic, "Topic to publish to")->required();
    cmd->add_option("-f,--file", a->file, "Read lines from this file instead of stdin");
    cmd->add_option("-k,--key-separator", a->key_separator,
                    "Raw format: split each line at the first occurrence into key and value");
    cmd->add_option("--format", a->format,
                    "raw, or json: {\"key\":..,\"value\":..,\"headers\":{..}}")
        ->check(CLI::IsMember({"raw", "json"}))
        ->capture_default_str();
    cmd->add_option("--acks", a->acks, "0, leader or all")->capture_default_str();
    cmd->add_option("-p,--partition", a->partition,
                    "Publish every event to this partition (default: by key, else round-robin)");
    cmd->add_option("--linger-ms", a->linger_ms,
                    "Batch linger in ms (fractions count: 0.25 is 250 us)")
        ->check(CLI::Range(0.0, 900000.0))
        ->capture_default_str();
    cmd->add_flag("--send-when-idle", a->send_when_idle,
                  "A partition with no batch out sends at once; batches linger only while one "
                  "is out (Nagle's rule)");
    cmd->add_option("--batch", a->batch, "Largest batch in events")->capture_default_str();
    cmd->add_flag("--idempotent", a->idempotent, "Idempotent producer (retries never duplicate)");
    cmd->callback([&g, &selected, a] { selected = [&g, a] { return run_produce(g, *a); }; });
}

}  // namespace es::cli
