// The native protocol's frame: a 16-byte header and a body. docs/protocol.md is the contract;
// this header is its byte layout, shared by the server and the client.
//
// Every integer is little-endian.
//
//   offset  size  field
//   0       4     frame_bytes   the whole frame, this header included: 16..max_frame_bytes
//   4       2     type          message_type below
//   6       2     flags         must be 0 (reserved)
//   8       8     request_id    chosen by the client, echoed in the answer; frames the server
//                               pushes for a subscription carry the SUBSCRIBE's request_id
//   16      ...   body          the message (messages.h)
//
// Body primitives: u8, u16, u32, u64, i64; str = u16 length + bytes (names, messages);
// bytes = u32 length + bytes (keys, payloads, header values).
#pragma once

#include <cstddef>
#include <cstdint>

namespace es::protocol {

inline constexpr size_t frame_header_bytes = 16;
inline constexpr uint16_t protocol_version = 1;

// Limits (STYLE.md: a named limit on everything from outside). A server may announce a lower
// max_frame_bytes in HELLO_OK.
inline constexpr uint32_t max_frame_bytes_limit = 16u << 20;
inline constexpr uint32_t default_max_frame_bytes = 4u << 20;
inline constexpr uint32_t max_events_per_publish = 65536;
inline constexpr uint32_t max_partitions_per_subscribe = 4096;
inline constexpr uint32_t max_ping_bytes = 1024;
inline constexpr uint32_t max_udp_datagram_bytes = 65507;
// Names on the wire (topics, groups, header names, client names): the engine checks the exact
// rules (a topic name is 1..249 of [A-Za-z0-9._-]); the codec only bounds their length.
inline constexpr uint32_t max_name_bytes = 255;
inline constexpr uint32_t max_topics_per_metadata = 4096;

// EVENTS body before its records: subscription_id u64, partition u32, count u32,
// records_bytes u32, reserved u32 (0). With the 16-byte header, records start 8-byte aligned.
inline constexpr size_t events_body_head_bytes = 24;
// The part of core/record_format.h the codec checks in EVENTS (protocol depends on common only;
// the server asserts that both agree): a record starts with u32 record_bytes, u32 key_bytes,
// u32 payload_bytes, u16 headers_bytes, and is a multiple of 8 bytes of at least 32.
inline constexpr size_t wire_record_header_bytes = 32;
inline constexpr size_t wire_record_alignment = 8;
// A record's headers region (u16 headers_bytes): every header's u16 name length, u32 value
// length, name and value. Header names are at most max_name_bytes.
inline constexpr size_t wire_record_headers_bytes_max = 65535;

enum class message_type : uint16_t {
    // client -> server
    hello = 0x0001,
    ping = 0x0002,
    create_topic = 0x0010,
    delete_topic = 0x0011,
    list_topics = 0x0012,
    describe_topic = 0x0013,
    metadata = 0x0014,
    publish = 0x0020,
    subscribe = 0x0030,
    credit = 0x0031,
    unsubscribe = 0x0032,
    commit_offset = 0x0040,
    fetch_offset = 0x0041,
    // server -> client
    ok = 0x8000,
    hello_ok = 0x8001,
    pong = 0x8002,
    topic_info = 0x8010,
    topic_list = 0x8012,
    metadata_info = 0x8014,
    publish_ack = 0x8020,
    subscribed = 0x8030,
    events = 0x8031,
    gap = 0x8032,
    subscription_ended = 0x8033,
    offset = 0x8041,
    error = 0x80FF,
};

struct frame_header {
    uint32_t frame_bytes = 0;
    message_type type{};
    uint16_t flags = 0;
    uint64_t request_id = 0;
};

}  // namespace es::protocol
