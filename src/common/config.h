// The node's configuration: one struct, and one table of fields that every source (YAML file,
// EVENTSTREAM_* environment variables, command-line flags) goes through, so that a field is
// named, parsed and checked in one place.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace es {

struct peer_address {
    uint32_t node_id = 0;
    std::string host;
    uint16_t port = 0;
};

struct node_config {
    // Where the node keeps its data (embedded storage, ports.json, the LOCK file).
    std::string data_dir = "./data";
    // Address every listener binds to. 127.0.0.1 keeps the quick start private to this machine.
    std::string bind = "127.0.0.1";
    // The host clients are told to reach this node at (METADATA, a "not leader" answer's
    // leader), as Kafka's advertised listeners. Empty: the bind address; with a wildcard bind
    // (0.0.0.0, ::), this node's host in peers, else the machine's host name.
    std::string advertise_host;
    // Listener ports; 0 picks a free port, written to <data_dir>/ports.json.
    uint16_t http_port = 8080;
    uint16_t grpc_port = 8081;
    uint16_t native_port = 7070;
    uint16_t cluster_port = 7071;
    // This node's id in the cluster, 1..2^31.
    uint32_t node_id = 1;
    // Every node of the cluster as id@host:port (their cluster ports), this node included or
    // not (then it is node_id at bind:cluster_port). Empty: a single node, no Raft.
    std::vector<peer_address> peers;
    // Raft timing of the controller and partition groups (ms): a follower that hears nothing
    // from its leader for the election timeout starts an election; the leader sends
    // heartbeats every heartbeat interval.
    uint32_t raft_election_timeout_ms = 500;
    uint32_t raft_heartbeat_ms = 100;
    // A partition's Raft group snapshots at most every raft_snapshot_threshold applied batches
    // (sooner when batches are large: about raft_log_bytes of log between snapshots) and keeps
    // raft_snapshot_trailing batches (scaled alike) behind the snapshot.
    uint32_t raft_snapshot_threshold = 16384;
    uint32_t raft_snapshot_trailing = 2048;
    uint64_t raft_log_bytes = 256ull << 20;
    // A partition's Raft log begins a new segment file once one holds this much (our own log,
    // raft_log_store; files are not preallocated). A segment must hold several batches: one
    // write carries only entries of one segment, and every segment costs a sync and a close.
    uint64_t raft_segment_bytes = 8ull << 20;
    // "text" or "json" log lines on stderr; level as in spdlog.
    std::string log_format = "text";
    std::string log_level = "info";
    // Worker threads that own partitions; 0 means one per online core.
    uint32_t workers = 0;
    // Pin each worker to one core (and its memory to that core's NUMA node).
    bool pin_workers = true;
    // Network threads serving the HTTP, WebSocket and native connections, each with its own
    // Asio context; a connection stays on one. 0 picks 2, or 1 where the process may use at
    // most 2 CPUs (there, a second one only takes turns with the workers on the same cores).
    uint32_t io_threads = 0;
    // How long an idle worker spins before it sleeps (us): lower wake-up latency while busy,
    // against a core taken from the listeners' threads on a small machine.
    uint32_t worker_spin_us = 100;
    // Capacity of each worker's ingest queue in bytes of encoded events, rounded up to a power
    // of two. One batch takes at most a quarter of it, which also bounds the largest event.
    uint64_t ingest_queue_bytes = 16 << 20;
    // Freed 8 MiB partition segments kept for reuse with their pages mapped (0: none), and
    // whether the node fills that pool at start, touching every page (core/segment_pool.h).
    uint64_t segment_pool_bytes = 256 << 20;
    bool segment_pool_pretouch = false;
    // Durable topics. fsync: "always" acknowledges a write after its fsync; "interval" once the
    // OS holds it, with an fsync every fsync_interval_ms; "never" leaves flushing to the OS.
    std::string fsync = "always";
    uint32_t fsync_interval_ms = 100;
    // A durable partition's batch goes to disk at durable_batch_events events or
    // durable_batch_bytes bytes, or durable_linger_us after its first event (0: at the end of
    // the worker's pass).
    uint32_t durable_batch_events = 4096;
    uint64_t durable_batch_bytes = 1 << 20;
    uint32_t durable_linger_us = 0;
    // Recent events kept in memory per durable partition (older ones are read from disk).
    uint64_t durable_cache_bytes = 8 << 20;
    // Native protocol (docs/protocol.md "Limits"): the largest frame a client may send, and the
    // time-outs that close a connection: no frame for native_idle_timeout_ms, no HELLO within
    // native_handshake_timeout_ms of the connect, a frame begun and not finished within
    // native_frame_timeout_ms (slowloris), a write to the client not finished within
    // native_write_timeout_ms (a client that stopped reading). At most native_connections_max
    // connections.
    uint32_t native_max_frame_bytes = 4 << 20;
    uint32_t native_idle_timeout_ms = 120'000;
    uint32_t native_handshake_timeout_ms = 10'000;
    uint32_t native_frame_timeout_ms = 30'000;
    uint32_t native_write_timeout_ms = 30'000;
    // SO_SNDBUF of each native connection (common/socket_buffers.h); 0: the kernel's autotuning.
    uint32_t native_send_buffer_bytes = 256 * 1024;
    // An HTTP request must arrive whole, and its answer be taken, within this long; also how long
    // an idle keep-alive connection stays open (slowloris guard).
    uint32_t http_io_timeout_ms = 30'000;
    // A WebSocket message begun must arrive whole within this long (slowloris guard).
    uint32_t websocket_message_timeout_ms = 30'000;
    uint32_t native_connections_max = 10'000;
    // Path of the YAML file the rest was read from, if any.
    std::string config_file;
};

// One configurable field. `name` is the YAML key; the flag is --name with '-' for '_', the
// environment variable EVENTSTREAM_NAME.
struct config_field {
    std::string_view name;
    std::string_view help;
    // Parses text into the field; the error names the field and the bad value.
    std::function<status(node_config&, std::string_view)> parse;
    // The field's current value as text (for --help defaults and the start-up log).
    std::function<std::string(const node_config&)> show;
};

const std::vector<config_field>& config_fields();

std::string flag_name(std::string_view field);  // "http_port" -> "--http-port"
std::string env_name(std::string_view field);   // "http_port" -> "EVENTSTREAM_HTTP_PORT"

// Values given on the command line, by field name, as text.
using flag_values = std::map<std::string, std::string, std::less<>>;
// Reads an environment variable; tests pass their own.
using env_reader = std::function<std::optional<std::string>(const std::string&)>;

env_reader process_environment();

// Builds the configuration: defaults, then the YAML file (from --config, else
// EVENTSTREAM_CONFIG), then the environment, then flags; later sources win. Ends with
// validate(). Unknown YAML keys are errors, so that a typo does not pass silently.
result<node_config> load_config(const flag_values& flags, const env_reader& env);

// Checks the rules that span fields (distinct ports, valid peers).
status validate(const node_config& config);

}  // namespace es
