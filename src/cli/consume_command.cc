// esctl consume: writes a topic's events to stdout, raw or as JSON lines, from a start position,
// alone or as a group member; exits at the end of the partitions (as they were when it
// started) or after -n events, or keeps waiting with --follow.
#include <charconv>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <memory>

#include "cli/cli_common.h"
#include "cli/line_format.h"

namespace es::cli {

namespace {

std::atomic<bool> interrupted{false};

struct consume_args {
    std::string topic;
    std::string format = "raw";
    std::string from;
    std::string group;
    uint32_t member_index = 0;
    uint32_t member_count = 1;
    std::vector<uint32_t> partitions;
    uint64_t count = 0;
    bool follow = false;
    std::string key_separator;
    uint32_t idle_timeout_ms = 10000;
};

// --from: earliest, latest, committed or an offset.
std::optional<eventstream::start_position> parse_from(const std::string& text) {
    using eventstream::start_position;
    if (text == "earliest") return start_position::earliest();
    if (text == "latest") return start_position::latest();
    if (text == "committed") return start_position::committed(start_position::kind::earliest);
    uint64_t offset = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), offset);
    if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
    return start_position::at_offset(offset);
}

int run_consume(const global_options& g, const consume_args& a) {
    using eventstream::start_position;
    std::string from = a.from.empty() ? (a.group.empty() ? "earliest" : "committed") : a.from;
    auto start = parse_from(from);
    if (!start) {
        std::cerr << "esctl: --from must be earliest, latest, committed or an offset, got '" << from
                  << "'\n";
        return exit_usage;
    }
    if (start->where == start_position::kind::committed && a.group.empty()) {
        std::cerr << "esctl: --from committed needs --group\n";
        return exit_usage;
    }
    eventstream::consumer_options o;
    o.connection = connection_for(g);
    o.group = a.group;
    o.member_index = a.member_index;
    o.member_count = a.member_count;
    o.start = start;
    auto c = eventstream::consumer::create(o);
    if (!c) return fail("consumer", c.err());
    auto& consumer = **c;
    // Where each partition ends now: without --follow, the consumer stops there.
    std::map<uint32_t, uint64_t> end_offsets;
    std::map<uint32_t, uint64_t> start_offsets;
    if (!a.follow) {
        auto admin = eventstream::admin::connect(o.connection);
        if (!admin) return fail("connect to " + g.server, admin.err());
        auto t = (*admin)->describe_topic(a.topic);
        if (!t) return fail("describe topic " + a.topic, t.err());
        for (const auto& p : t->partitions) {
            end_offsets[p.partition] = p.end_offset;
            start_offsets[p.partition] = p.start_offset;
        }
    }
    auto s = consumer.subscribe(a.topic, a.partitions);
    if (!s) return fail("subscribe to " + a.topic, s.err());

    // A partition is done once its position reaches its end offset.
    std::map<uint32_t, uint64_t> remaining;  // partition -> end offset, not yet reached
    if (!a.follow) {
        for (uint32_t p : consumer.assignment()) {
            uint64_t first = start_offsets[p];
            switch (start->where) {
                case start_position::kind::latest:
                    first = end_offsets[p];
                    break;
                case start_position::kind::offset:
                    first = std::max<uint64_t>(first, uint64_t(start->value));
                    break;
                case start_position::kind::committed: {
                    auto committed = consumer.committed(p);
                    if (!committed) return fail("fetch committed offset", committed.err());
                    if (*committed) first = std::max(first, **committed);
                    break;
                }
                default:
                    break;
            }
            if (first < end_offsets[p]) remaining[p] = end_offsets[p];
        }
    }

    std::signal(SIGINT, [](int) { interrupted.store(true); });
    std::signal(SIGTERM, [](int) { interrupted.store(true); });
    uint64_t printed = 0;
    auto last_event = std::chrono::steady_clock::now();
    int code = exit_ok;
    while (!interrupted.load()) {
        if (a.count && printed >= a.count) break;
        if (!a.follow && remaining.empty()) break;
        auto r = consumer.poll(200);
        if (!r) {
            code = fail("consume", r.err());
            break;
        }
        if (!*r) {
            std::cout.flush();
            if (!a.follow && std::chrono::steady_clock::now() - last_event >
                                 std::chrono::milliseconds(a.idle_timeout_ms)) {
                std::cerr << "esctl: no event for " << a.idle_timeout_ms
                          << " ms before the end of the partitions; stopping\n";
                code = exit_error;
                break;
            }
            continue;
        }
        last_event = std::chrono::steady_clock::now();
        const auto& rec = **r;
        if (rec.kind == eventstream::record_kind::gap) {
            if (a.format == "json") {
                std::cout << record_json(rec) << "\n";
            } else {
                std::cerr << "esctl: partition " << rec.partition << ": events " << rec.gap_first
                          << ".." << rec.gap_last << " are gone (retention)\n";
            }
        } else {
            std::cout << (a.format == "json" ? record_json(rec) : record_raw(rec, a.key_separator))
                      << "\n";
            ++printed;
        }
        if (a.follow) std::cout.flush();
        const uint64_t next =
            rec.kind == eventstream::record_kind::gap ? rec.gap_last + 1 : rec.offset + 1;
        auto it = remaining.find(rec.partition);
        if (it != remaining.end() && next >= it->second) remaining.erase(it);
    }
    std::cout.flush();
    auto closed = consumer.close();
    if (!closed && code == exit_ok) code = fail("commit offsets", closed.err());
    return code;
}

}  // namespace

void add_consume_command(CLI::App& app, const global_options& g, command_run& selected) {
    auto a = std::make_shared<consume_args>();
    auto* cmd = app.add_subcommand("consume", "Write a topic's events to stdout");
    cmd->add_option("topic", a->topic, "Topic to read")->required();
    cmd->add_option("--format", a->format,
                    "raw (the value per line) or json (offset, partition, key, headers, "
                    "timestamp, value)")
        ->check(CLI::IsMember({"raw", "json"}))
        ->capture_default_str();
    cmd->add_option("--from", a->from,
                    "earliest, latest, committed or an offset (default: earliest; committed "
                    "with --group)");
    cmd->add_option("-g,--group", a->group, "Consumer group: commits offsets as it goes");
    cmd->add_option("--member-index", a->member_index,
                    "Static group membership: this member's index (takes partitions p with "
                    "p % count == index)")
        ->capture_default_str();
    cmd->add_option("--member-count", a->member_count, "Members in the group")
        ->capture_default_str();
    cmd->add_option("-p,--partition", a->partitions, "Only these partitions (repeatable)");
    cmd->add_option("-n,--count", a->count, "Exit after this many events (0: no limit)")
        ->capture_default_str();
    cmd->add_flag("-F,--follow", a->follow,
                  "Keep waiting for new events (default: exit at the end of the partitions)");
    cmd->add_option("-k,--key-separator", a->key_separator,
                    "Raw format: print key<separator>value for events with a key");
    cmd->add_option("--idle-timeout-ms", a->idle_timeout_ms,
                    "Without --follow: give up when no event comes for this long")
        ->capture_default_str();
    cmd->callback([&g, &selected, a] { selected = [&g, a] { return run_consume(g, *a); }; });
}

}  // namespace es::cli
