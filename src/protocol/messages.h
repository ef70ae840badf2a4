// The native protocol's messages, one struct per frame body (docs/protocol.md gives the byte
// layout of each). Decoded requests hold views into the frame they came from (valid while its
// bytes are); everything else owns its data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_format.h"

namespace es::protocol {

enum class acks_level : uint8_t { none = 0, leader = 1, all = 2 };
enum class start_kind : uint8_t {
    earliest = 0,
    latest = 1,
    offset = 2,
    timestamp = 3,
    committed = 4
};

// HELLO: the first frame of a connection. The server answers HELLO_OK with the version it
// speaks (the highest both do) or ERROR and a close.
struct hello {
    uint16_t min_version = protocol_version;
    uint16_t max_version = protocol_version;
    uint64_t capabilities = 0;  // bit set: capability_* below
    std::string client_name;
};

// Capability bits (HELLO, HELLO_OK). A server grants the bits it knows of those offered.
// PUBLISH_ACK's duplicate may be 2 (a duplicate whose offset the partition forgot); without
// the bit such a batch is acknowledged with duplicate 1 and base_offset 0.
inline constexpr uint64_t capability_duplicate_offset_unknown = 1;
inline constexpr uint64_t known_capabilities = capability_duplicate_offset_unknown;

struct hello_ok {
    uint16_t version = protocol_version;
    uint64_t capabilities = 0;
    uint32_t max_frame_bytes = default_max_frame_bytes;
    uint32_t node_id = 0;
    std::string server_version;
};

// PING / PONG: the data comes back unchanged (at most max_ping_bytes).
struct ping {
    std::string data;
};

// A topic's settings, as CREATE_TOPIC sends them and TOPIC_INFO returns them.
struct topic_settings {
    std::string name;
    uint32_t partitions = 1;
    uint8_t storage = 0;  // 0 memory, 1 durable
    uint8_t replication_factor = 1;
    uint64_t retention_bytes = 64ull << 20;
    uint64_t retention_ms = 0;
    uint32_t max_event_bytes = 1 << 20;
};

struct partition_detail {
    uint32_t partition = 0;
    uint32_t leader_node = 0;
    uint64_t start_offset = 0;
    uint64_t end_offset = 0;
    uint64_t stored_bytes = 0;
};

// TOPIC_INFO (answer to CREATE_TOPIC and DESCRIBE_TOPIC), and each entry of TOPIC_LIST.
struct topic_detail {
    topic_settings settings;
    uint64_t id = 0;
    std::vector<partition_detail> partitions;
};

struct create_topic_request {
    topic_settings settings;
};

// DELETE_TOPIC and DESCRIBE_TOPIC.
struct topic_name_request {
    std::string name;
};

struct topic_list {
    std::vector<topic_detail> topics;
};

// METADATA: which node leads each partition, for the topics named (all when empty).
struct metadata_request {
    std::vector<std::string> topics;
};

struct node_address {
    uint32_t node_id = 0;
    std::string host;
    uint16_t native_port = 0;
};

struct topic_leaders {
    std::string name;
    std::vector<uint32_t> leader_by_partition;  // node id per partition
};

struct metadata_reply {
    std::vector<node_address> nodes;
    std::vector<topic_leaders> topics;
};

// One event of a PUBLISH, viewing the frame.
struct wire_header {
    std::string_view name;
    std::string_view value;
};

struct wire_event {
    bool has_key = false;
    int64_t timestamp_ns = 0;  // 0: the node stamps the append time
    std::string_view key;
    std::string_view payload;
    uint32_t first_header = 0;  // index into publish_request::headers
    uint32_t header_count = 0;
};

// PUBLISH: events for one topic. Without an explicit partition the node routes each event by
// key (hash mod partitions) or round-robin. With producer_id != 0, first_sequence numbers the
// first event (the rest follow), and a batch the node has already appended is acknowledged
// again without being appended twice.
// The fields of a PUBLISH before its events.
struct publish_head {
    std::string_view topic;
    acks_level acks = acks_level::leader;
    std::optional<uint32_t> partition;
    uint64_t producer_id = 0;
    uint64_t first_sequence = 0;
};

struct publish_request : publish_head {
    std::vector<wire_event> events;
    std::vector<wire_header> headers;
};

struct batch_ack {
    uint32_t partition = 0;
    uint64_t base_offset = 0;
    uint32_t count = 0;
    bool duplicate = false;  // already appended earlier (idempotent producer)
    // With duplicate: false when the partition no longer remembers where the batch went
    // (base_offset is then 0 and means nothing). On the wire: duplicate 2.
    bool offset_known = true;
};

// PUBLISH_ACK: one entry per batch appended, sorted by partition; one partition's in the
// order its events were appended (its events take the offsets of its batches in turn).
struct publish_ack {
    std::vector<batch_ack> batches;
};

// SUBSCRIBE: partitions (all when empty) of a topic, from a start, optionally as a member of a
// consumer group (whose committed offsets start_kind::committed reads), with initial credit.
struct subscribe_request {
    std::string topic;
    std::string group;
    start_kind start = start_kind::latest;
    start_kind fallback = start_kind::latest;  // with committed: earliest or latest
    int64_t start_value = 0;                   // the offset, or the time in Unix ns
    uint32_t credit_events = 0;
    uint64_t credit_bytes = 0;
    std::vector<uint32_t> partitions;
};

struct subscribed {
    uint64_t subscription_id = 0;
    std::vector<uint32_t> partitions;
};

// EVENTS: records of one partition in offset order, in the layout of core/record_format.h
// (32-byte header per record, 8-byte aligned sizes), copied from the partition as stored.
struct events_push {
    uint64_t subscription_id = 0;
    uint32_t partition = 0;
    uint32_t count = 0;
    std::string_view records;
};

struct gap_push {
    uint64_t subscription_id = 0;
    uint32_t partition = 0;
    uint64_t first = 0;
    uint64_t last = 0;
};

struct subscription_ended {
    uint64_t subscription_id = 0;
    uint16_t code = 0;
    std::string message;
};

// CREDIT: adds to what the subscriber will take (no answer unless it is refused).
struct credit_grant {
    uint64_t subscription_id = 0;
    uint32_t events = 0;
    uint64_t bytes = 0;
};

struct unsubscribe_request {
    uint64_t subscription_id = 0;
};

struct commit_offset_request {
    std::string topic;
    std::string group;
    uint32_t partition = 0;
    uint64_t offset = 0;
};

struct fetch_offset_request {
    std::string topic;
    std::string group;
    uint32_t partition = 0;
};

struct offset_reply {
    std::optional<uint64_t> offset;
};

// ERROR: the request_id of the request it answers (0 for the connection). code is one of the
// stable numbers of docs/protocol.md (es::errc's values); retryable says whether the same
// request may succeed later.
struct error_reply {
    uint16_t code = 0;
    bool retryable = false;
    std::string message;
};

}  // namespace es::protocol
