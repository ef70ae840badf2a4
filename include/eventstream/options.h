// Settings of the client library: the connection every client object opens, and the producer's
// and consumer's own. Every field has a default that works against a local node.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace eventstream {

// One connection to a node's native port (TCP 7070). Each admin, producer and consumer object
// opens its own connection, served by one I/O thread.
struct connection_options {
    std::string server = "127.0.0.1:7070";  // host:port
    std::string client_name = "eventstream-cpp";
    uint32_t connect_timeout_ms = 5000;          // TCP connect plus HELLO
    uint32_t request_timeout_ms = 30000;         // an answer must come within this, else timed_out
    uint32_t reconnect_backoff_initial_ms = 50;  // first wait after a lost connection
    uint32_t reconnect_backoff_max_ms = 2000;    // waits double up to this
    uint32_t idle_ping_ms = 10000;               // PING after this long without input; 0: never
    // The socket's send buffer (SO_SNDBUF; Linux doubles it and caps it at net.core.wmem_max).
    // A fixed buffer of a few hundred KiB keeps a fast producer's bytes in the CPU's cache: on
    // loopback, 1 KiB events went 35-45 % faster than with the kernel's autotuning, which grows
    // it to megabytes. On links with a large bandwidth-delay product it caps a connection at
    // about twice this per round trip: raise it there, or 0 for the kernel's autotuning.
    uint32_t send_buffer_bytes = 256 * 1024;
};

enum class acks : uint8_t {
    none = 0,    // fire and forget: the delivery report comes once the batch is written out
    leader = 1,  // appended on the partition's leader
    all = 2,     // committed by a majority (durable topics); the same as leader on memory topics
};

struct producer_options {
    connection_options connection;
    acks ack = acks::leader;
    // An idempotent producer has a random 64-bit producer id and numbers each partition's
    // events, so that a retried batch is not appended twice.
    bool idempotent = false;
    // Batching per partition: a batch is sent when it holds batch_events_max events or
    // batch_bytes_max bytes, or linger_ms after its first event, whichever comes first; but
    // while the partition has max_in_flight_per_partition batches out (or one waiting for a
    // retry), a lingered batch stays open and keeps gathering events until it can go.
    // Fractions of a millisecond count (0.25: 250 us), as in librdkafka.
    double linger_ms = 5;
    // true: a partition with no batch out (none in flight, none waiting) sends its open batch
    // at once, and lingers only while batches are out, as Nagle's algorithm does: batches then
    // grow with the round trip instead of the linger, so a producer well below its maximum
    // rate sees about a round trip of batching delay, not the linger, at the cost of more and
    // smaller requests. false (default): every batch waits its linger or its size.
    bool send_when_idle = false;
    uint32_t batch_events_max = 10000;
    uint32_t batch_bytes_max = 1 << 20;
    // Memory bound: bytes of events accepted by send() and not yet reported.
    uint64_t buffer_bytes_max = 64ull << 20;
    // When the buffer is full: true, send() waits up to max_block_ms and then fails with
    // queue_full; false, it fails at once.
    bool block_when_full = true;
    uint32_t max_block_ms = 60000;
    // Retries of retryable errors (queue_full, timed_out, shutting_down, connection_lost):
    // waits of retry_backoff_initial_ms doubling up to retry_backoff_max_ms, until
    // delivery_timeout_ms after the batch was first sent; then the report is the last error.
    uint32_t retry_backoff_initial_ms = 10;
    uint32_t retry_backoff_max_ms = 1000;
    uint32_t delivery_timeout_ms = 120000;
    // Batches of one partition on the wire at once. 1 keeps a partition's order through retries;
    // more may reorder events when a batch is retried.
    uint32_t max_in_flight_per_partition = 1;
};

// Where a consumer starts in a partition it has no position in yet.
struct start_position {
    enum class kind : uint8_t { earliest, latest, offset, timestamp, committed };
    kind where = kind::latest;
    int64_t value = 0;  // the offset, or the time in Unix ns
    // With committed, where a partition without a committed offset starts: earliest or latest.
    kind fallback = kind::latest;

    static start_position earliest() { return {kind::earliest}; }
    static start_position latest() { return {kind::latest}; }
    static start_position at_offset(uint64_t offset) {
        return {kind::offset, static_cast<int64_t>(offset)};
    }
    static start_position at_time_ns(int64_t unix_ns) { return {kind::timestamp, unix_ns}; }
    static start_position committed(kind fallback_kind = kind::latest) {
        return {kind::committed, 0, fallback_kind};
    }
};

struct consumer_options {
    connection_options connection;
    // Consumer group: committed offsets are kept per group. Empty: no group (no commits).
    std::string group;
    // Static group membership: member member_index of member_count takes the partitions p with
    // p % member_count == member_index. Every member of a group must use the same count.
    uint32_t member_index = 0;
    uint32_t member_count = 1;
    // Where to start. With a group the default is the committed offset, else latest.
    std::optional<start_position> start;
    // Flow control: the consumer grants the server credit for at most this many events and
    // bytes per partition beyond what the application has consumed; it grants more as poll()
    // hands events out. The byte window is raised to the topic's largest record when smaller,
    // since the server sends a record only whole.
    uint32_t credit_events = 1000;
    uint64_t credit_bytes = 4ull << 20;
    // Automatic commits (needs a group): every auto_commit_interval_ms, from poll(), of the
    // offsets of what earlier polls handed out (as Kafka's: at least once, since the
    // application had until this poll to process them); and once more in close().
    bool auto_commit = true;
    uint32_t auto_commit_interval_ms = 1000;
};

}  // namespace eventstream
