// Parsing and validation of node_config from YAML, environment and flags.
#include "common/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>

namespace es {
namespace {

error field_error(std::string_view field, std::string_view why) {
    return make_error(errc::config_error, std::string(field) + ": " + std::string(why));
}

template <class Int>
result<Int> parse_int(std::string_view field, std::string_view text, Int lo, Int hi) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return field_error(field, "expected a whole number, got '" + std::string(text) + "'");
    }
    if (v < static_cast<uint64_t>(lo) || v > static_cast<uint64_t>(hi)) {
        return field_error(field, "must be " + std::to_string(lo) + ".." + std::to_string(hi) +
                                      ", got " + std::string(text));
    }
    return static_cast<Int>(v);
}

result<bool> parse_bool(std::string_view field, std::string_view text) {
    if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "0" || text == "no" || text == "off") return false;
    return field_error(field, "expected true or false, got '" + std::string(text) + "'");
}

result<std::vector<peer_address>> parse_peers(std::string_view field, std::string_view text) {
    std::vector<peer_address> peers;
    size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        size_t comma = text.find(',', start);
        std::string_view item = text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        const size_t at = item.find('@');
        const size_t colon = item.rfind(':');
        if (at == std::string_view::npos || colon == std::string_view::npos || colon < at) {
            return field_error(field, "expected id@host:port, got '" + std::string(item) + "'");
        }
        auto id = parse_int<uint32_t>(field, item.substr(0, at), 1, 0x7fffffff);
        if (!id) return id.err();
        auto port = parse_int<uint16_t>(field, item.substr(colon + 1), 1, 65535);
        if (!port) return port.err();
        std::string host(item.substr(at + 1, colon - at - 1));
        if (host.empty()) return field_error(field, "empty host in '" + std::string(item) + "'");
        peers.push_back({*id, std::move(host), *port});
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return peers;
}

template <class Int, Int node_config::*member>
config_field int_field(std::string_view name, std::string_view help, Int lo, Int hi) {
    return {name, help,
            [name, lo, hi](node_config& c, std::string_view text) -> status {
                auto v = parse_int<Int>(name, text, lo, hi);
                if (!v) return v.err();
                c.*member = *v;
                return {};
            },
            [](const node_config& c) { return std::to_string(c.*member); }};
}

config_field bool_field(std::string_view name, std::string_view help, bool node_config::*m) {
    return {name, help,
            [name, m](node_config& c, std::string_view text) -> status {
                auto v = parse_bool(name, text);
                if (!v) return v.err();
                c.*m = *v;
                return {};
            },
            [m](const node_config& c) { return std::string(c.*m ? "true" : "false"); }};
}

config_field port_field(std::string_view name, std::string_view help, uint16_t node_config::*m) {
    return {name, help,
            [name, m](node_config& c, std::string_view text) -> status {
                auto v = parse_int<uint16_t>(name, text, 0, 65535);
                if (!v) return v.err();
                c.*m = *v;
                return {};
            },
            [m](const node_config& c) { return std::to_string(c.*m); }};
}

std::vector<config_field> make_fields() {
    std::vector<config_field> f;
    f.push_back({"data_dir", "directory for the node's data (embedded storage, ports.json)",
                 [](node_config& c, std::string_view t) -> status {
                     if (t.empty()) return field_error("data_dir", "must not be empty");
                     c.data_dir = t;
                     return {};
                 },
                 [](const node_config& c) { return c.data_dir; }});
    f.push_back({"bind", "address every listener binds to",
                 [](node_config& c, std::string_view t) -> status {
                     if (t.empty()) return field_error("bind", "must not be empty");
                     c.bind = t;
                     return {};
                 },
                 [](const node_config& c) { return c.bind; }});
    f.push_back({"advertise_host",
                 "host clients are told to reach this node at (metadata, not-leader answers); "
                 "default: the bind address, or with a wildcard bind this node's peers entry, "
                 "else the host name",
                 [](node_config& c, std::string_view t) -> status {
                     in6_addr v6{};
                     const bool ipv6 = ::inet_pton(AF_INET6, std::string(t).c_str(), &v6) == 1;
                     if (!ipv6 && t.find_first_of(" :/@,[]") != std::string_view::npos) {
                         return field_error("advertise_host",
                                            "must be a host name or an IP address (no port)");
                     }
                     c.advertise_host = t;
                     return {};
                 },
                 [](const node_config& c) { return c.advertise_host; }});
    f.push_back(port_field("http_port", "HTTP port (REST, WebSocket, /metrics, health); 0 = any",
                           &node_config::http_port));
    f.push_back(port_field("grpc_port", "gRPC port; 0 = any", &node_config::grpc_port));
    f.push_back(port_field("native_port", "native binary protocol port (TCP and UDP); 0 = any",
                           &node_config::native_port));
    f.push_back(port_field("cluster_port", "node-to-node port (Raft, forwarding); 0 = any",
                           &node_config::cluster_port));
    f.push_back(int_field<uint32_t, &node_config::node_id>(
        "node_id", "this node's id in the cluster", 1, 0x7fffffff));
    f.push_back(
        {"peers", "cluster nodes as id@host:cluster_port,... (empty: a single node without Raft)",
         [](node_config& c, std::string_view t) -> status {
             auto p = parse_peers("peers", t);
             if (!p) return p.err();
             c.peers = std::move(*p);
             return {};
         },
         [](const node_config& c) {
             std::string s;
             for (const auto& p : c.peers) {
                 if (!s.empty()) s += ',';
                 s += std::to_string(p.node_id) + "@" + p.host + ":" + std::to_string(p.port);
             }
             return s;
         }});
    f.push_back({"log_format", "log line format: text or json",
                 [](node_config& c, std::string_view t) -> status {
                     if (t != "text" && t != "json") {
                         return field_error("log_format",
                                            "must be text or json, got '" + std::string(t) + "'");
                     }
                     c.log_format = t;
                     return {};
                 },
                 [](const node_config& c) { return c.log_format; }});
    f.push_back({"log_level", "trace, debug, info, warn, error, critical or off",
                 [](node_config& c, std::string_view t) -> status {
                     static const std::set<std::string_view> levels{
                         "trace", "debug", "info", "warn", "error", "critical", "off"};
                     if (!levels.count(t)) {
                         return field_error("log_level", "unknown level '" + std::string(t) + "'");
                     }
                     c.log_level = t;
                     return {};
                 },
                 [](const node_config& c) { return c.log_level; }});
    f.push_back(int_field<uint32_t, &node_config::workers>(
        "workers", "worker threads owning partitions; 0 = one per core", 0, 1024));
    f.push_back(bool_field("pin_workers", "pin each worker thread to a core (true/false)",
                           &node_config::pin_workers));
    f.push_back(int_field<uint32_t, &node_config::io_threads>(
        "io_threads",
        "network threads for the HTTP, WebSocket and native connections; 0 = 1 on up to 2 CPUs, "
        "else 2",
        0, 256));
    f.push_back(int_field<uint32_t, &node_config::worker_spin_us>(
        "worker_spin_us", "how long an idle worker spins before it sleeps (us)", 0, 1'000'000));
    f.push_back(int_field<uint64_t, &node_config::ingest_queue_bytes>(
        "ingest_queue_bytes", "per-worker ingest queue capacity in bytes (power of two)", 64 * 1024,
        uint64_t{1} << 32));
    f.push_back(int_field<uint64_t, &node_config::segment_pool_bytes>(
        "segment_pool_bytes",
        "freed 8 MiB partition segments kept for reuse, pages mapped, in bytes (0: none)", 0,
        uint64_t{1} << 40));
    f.push_back(bool_field("segment_pool_pretouch",
                           "fill the segment pool at start, touching every page, so that growing "
                           "partitions take no page faults (true/false)",
                           &node_config::segment_pool_pretouch));
    f.push_back({"fsync",
                 "when a durable write is acknowledged: always (after fsync), interval (after "
                 "the OS has it; fsync every fsync_interval_ms) or never (the OS flushes)",
                 [](node_config& c, std::string_view t) -> status {
                     if (t != "always" && t != "interval" && t != "never") {
                         return field_error("fsync", "must be always, interval or never, got '" +
                                                         std::string(t) + "'");
                     }
                     c.fsync = t;
                     return {};
                 },
                 [](const node_config& c) { return c.fsync; }});
    f.push_back(int_field<uint32_t, &node_config::raft_election_timeout_ms>(
        "raft_election_timeout_ms",
        "cluster: a follower that hears nothing from its leader this long starts an election (ms)",
        100, 60000));
    f.push_back(int_field<uint32_t, &node_config::raft_heartbeat_ms>(
        "raft_heartbeat_ms", "cluster: how often a Raft leader sends heartbeats (ms)", 10, 10000));
    f.push_back(int_field<uint32_t, &node_config::raft_snapshot_threshold>(
        "raft_snapshot_threshold",
        "cluster: a partition's Raft group snapshots at most every this many applied batches", 16,
        1u << 24));
    f.push_back(int_field<uint32_t, &node_config::raft_snapshot_trailing>(
        "raft_snapshot_trailing",
        "cluster: batches of Raft log a partition keeps behind its snapshot", 8, 1u << 24));
    f.push_back(int_field<uint64_t, &node_config::raft_log_bytes>(
        "raft_log_bytes",
        "cluster: bytes of Raft log a partition keeps between snapshots (fewer batches when "
        "they are large)",
        1ull << 20, 1ull << 40));
    f.push_back(int_field<uint64_t, &node_config::raft_segment_bytes>(
        "raft_segment_bytes",
        "cluster: a partition's Raft log begins a new segment file once one holds this much "
        "(a multiple of 1 MiB)",
        1ull << 20, 1ull << 30));
    f.push_back(int_field<uint32_t, &node_config::fsync_interval_ms>(
        "fsync_interval_ms", "with fsync=interval: longest time a write waits for its fsync (ms)",
        1, 60'000));
    f.push_back(int_field<uint32_t, &node_config::durable_batch_events>(
        "durable_batch_events", "most events in one durable batch before it goes to disk", 1,
        1 << 20));
    f.push_back(int_field<uint64_t, &node_config::durable_batch_bytes>(
        "durable_batch_bytes", "most bytes in one durable batch before it goes to disk", 4096,
        64ull << 20));
    f.push_back(int_field<uint32_t, &node_config::durable_linger_us>(
        "durable_linger_us",
        "how long a durable batch may wait for more events before it goes to disk (us; 0: "
        "at the end of each worker pass)",
        0, 1'000'000));
    f.push_back(int_field<uint64_t, &node_config::durable_cache_bytes>(
        "durable_cache_bytes",
        "recent events kept in memory per durable partition; older ones are read from disk",
        64 * 1024, uint64_t{1} << 34));
    f.push_back(int_field<uint32_t, &node_config::native_max_frame_bytes>(
        "native_max_frame_bytes", "largest frame a native protocol client may send (bytes)", 4096,
        16u << 20));
    f.push_back(int_field<uint32_t, &node_config::native_idle_timeout_ms>(
        "native_idle_timeout_ms",
        "native connections that send no frame for this long are closed (ms)", 100, 86'400'000));
    f.push_back(int_field<uint32_t, &node_config::native_handshake_timeout_ms>(
        "native_handshake_timeout_ms", "native connections must send HELLO within this long (ms)",
        100, 600'000));
    f.push_back(int_field<uint32_t, &node_config::native_frame_timeout_ms>(
        "native_frame_timeout_ms",
        "a native frame begun must be received whole within this long (ms; slowloris guard)", 100,
        600'000));
    f.push_back(int_field<uint32_t, &node_config::native_write_timeout_ms>(
        "native_write_timeout_ms",
        "a write to a native client must make progress within this long, or the client (which "
        "stopped reading) is disconnected (ms)",
        100, 600'000));
    f.push_back(int_field<uint32_t, &node_config::native_send_buffer_bytes>(
        "native_send_buffer_bytes",
        "socket send buffer of each native connection (bytes; Linux doubles it and caps it at "
        "net.core.wmem_max); 0 = the kernel's autotuning",
        0, 64u << 20));
    f.push_back(int_field<uint32_t, &node_config::http_io_timeout_ms>(
        "http_io_timeout_ms",
        "an HTTP request must arrive whole, and its answer be taken, within this long; also the "
        "keep-alive idle time (ms; slowloris guard)",
        100, 600'000));
    f.push_back(int_field<uint32_t, &node_config::websocket_message_timeout_ms>(
        "websocket_message_timeout_ms",
        "a WebSocket message begun must arrive whole within this long (ms; slowloris guard)", 100,
        600'000));
    f.push_back(int_field<uint32_t, &node_config::native_connections_max>(
        "native_connections_max", "most native protocol connections at once", 1, 1'000'000));
    return f;
}

// Flattens a YAML scalar or a sequence of scalars (peers may be a list) into text.
result<std::string> yaml_text(const std::string& key, const YAML::Node& node) {
    if (node.IsScalar()) return node.Scalar();
    if (node.IsSequence()) {
        std::string joined;
        for (const auto& item : node) {
            if (!item.IsScalar()) return field_error(key, "list items must be plain values");
            if (!joined.empty()) joined += ',';
            joined += item.Scalar();
        }
        return joined;
    }
    if (node.IsNull()) return std::string();
    return field_error(key, "expected a value or a list of values");
}

status apply_yaml_file(node_config& c, const std::string& path) {
    std::ifstream in(path);
    if (!in) return field_error("config", "cannot read file '" + path + "'");
    YAML::Node root;
    try {
        root = YAML::Load(in);
    } catch (const YAML::Exception& e) {
        return field_error("config", "'" + path + "' is not valid YAML: " + e.what());
    }
    if (root.IsNull()) return {};  // an empty file sets nothing
    if (!root.IsMap()) return field_error("config", "'" + path + "' must be a mapping of fields");
    for (const auto& kv : root) {
        // A key may be a list or a mapping ("? [a, b]"), which as<std::string>() throws on.
        if (!kv.first.IsScalar()) {
            return field_error("config", "'" + path + "' has a key that is not a field name");
        }
        const std::string key = kv.first.as<std::string>();
        const auto& fields = config_fields();
        auto it = std::find_if(fields.begin(), fields.end(),
                               [&](const config_field& f) { return f.name == key; });
        if (it == fields.end()) {
            return field_error(key, "unknown field in '" + path + "'");
        }
        auto text = yaml_text(key, kv.second);
        if (!text) return text.err();
        if (auto parsed = it->parse(c, *text); !parsed) {
            return make_error(errc::config_error, parsed.err().message + " (from '" + path + "')");
        }
    }
    return {};
}

}  // namespace

const std::vector<config_field>& config_fields() {
    static const std::vector<config_field> fields = make_fields();
    return fields;
}

std::string flag_name(std::string_view field) {
    std::string s = "--";
    for (char c : field) s += (c == '_') ? '-' : c;
    return s;
}

std::string env_name(std::string_view field) {
    std::string s = "EVENTSTREAM_";
    for (char c : field) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

env_reader process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    };
}

result<node_config> load_config(const flag_values& flags, const env_reader& env) {
    node_config c;
    if (auto it = flags.find("config"); it != flags.end()) {
        c.config_file = it->second;
    } else if (auto v = env("EVENTSTREAM_CONFIG")) {
        c.config_file = *v;
    }
    if (!c.config_file.empty()) ES_TRY(apply_yaml_file(c, c.config_file));

    for (const auto& field : config_fields()) {
        if (auto v = env(env_name(field.name))) {
            auto s = field.parse(c, *v);
            if (!s) {
                return make_error(errc::config_error,
                                  s.err().message + " (from " + env_name(field.name) + ")");
            }
        }
    }
    for (const auto& [name, value] : flags) {
        if (name == "config") continue;
        // An init-capture, because clang before 16 cannot capture a structured binding (the
        // fuzz targets build this file with clang 14).
        auto it = std::find_if(config_fields().begin(), config_fields().end(),
                               [&flag = name](const config_field& f) { return f.name == flag; });
        if (it == config_fields().end()) {
            return make_error(errc::config_error, "unknown option " + flag_name(name));
        }
        auto s = it->parse(c, value);
        if (!s) {
            return make_error(errc::config_error,
                              s.err().message + " (from " + flag_name(name) + ")");
        }
    }
    ES_TRY(validate(c));
    return c;
}

status validate(const node_config& c) {
    const std::pair<const char*, uint16_t> ports[] = {{"http_port", c.http_port},
                                                      {"grpc_port", c.grpc_port},
                                                      {"native_port", c.native_port},
                                                      {"cluster_port", c.cluster_port}};
    for (size_t i = 0; i < std::size(ports); ++i) {
        for (size_t j = i + 1; j < std::size(ports); ++j) {
            if (ports[i].second != 0 && ports[i].second == ports[j].second) {
                return field_error(ports[j].first, std::string("port ") +
                                                       std::to_string(ports[j].second) +
                                                       " is already used by " + ports[i].first);
            }
        }
    }
    std::set<uint32_t> ids;
    for (const auto& p : c.peers) {
        if (!ids.insert(p.node_id).second) {
            return field_error("peers", "node id " + std::to_string(p.node_id) + " listed twice");
        }
    }
    if (c.raft_segment_bytes % (1u << 20) != 0) {
        return field_error("raft_segment_bytes",
                           std::to_string(c.raft_segment_bytes) + " is not a multiple of 1 MiB");
    }
    if (!c.peers.empty() && c.raft_heartbeat_ms * 2 > c.raft_election_timeout_ms) {
        return field_error("raft_heartbeat_ms",
                           std::to_string(c.raft_heartbeat_ms) +
                               " must be at most half of raft_election_timeout_ms (" +
                               std::to_string(c.raft_election_timeout_ms) + ")");
    }
    if (c.segment_pool_pretouch) {
        // Touched at start, the pool is memory the node takes at once: refuse what this machine
        // could not give, rather than failing the start out of memory.
        const long pages = ::sysconf(_SC_PHYS_PAGES);
        const long page = ::sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0 &&
            c.segment_pool_bytes > static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 2) {
            return field_error("segment_pool_bytes",
                               std::to_string(c.segment_pool_bytes) +
                                   " is more than half of this machine's memory, and "
                                   "segment_pool_pretouch would take it all at start");
        }
    }
    return {};
}

}  // namespace es
