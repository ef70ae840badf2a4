// Settings and fixed limits of the native protocol's listener (docs/protocol.md "Limits").
// The settings come from node_config (native_* fields); the constants bound what a client may
// make the server hold.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/socket_buffers.h"
#include "protocol/frame_format.h"

namespace es::server {

// Requests read but not yet answered, per connection; beyond it the server stops reading.
inline constexpr size_t k_native_in_flight_max = 256;
// Subscriptions open at once on one connection.
inline constexpr size_t k_native_subscriptions_max = 64;
// Bytes queued for sending per connection (plus one frame); beyond it the server stops
// reading and stops taking events from subscriptions.
inline constexpr size_t k_native_outgoing_bytes_max = 8u << 20;
// What one subscription holds between the engine and the socket, whatever credit was granted.
inline constexpr uint32_t k_native_held_events_max = 16384;
inline constexpr uint64_t k_native_held_bytes_max = 4u << 20;
// After a protocol error: how long the server reads and discards what the client still sends
// before it closes, so that the ERROR frame is not lost to a reset.
inline constexpr uint32_t k_native_linger_ms = 2000;
// Connections refused for --native-connections-max that may linger at once (to hand over
// their ERROR frame); past this a refused connection is closed at once, without one. They do
// not count against the maximum.
inline constexpr size_t k_native_refused_lingering_max = 64;
// A PUBLISH the engine's ingest queue has no room for is tried again, first after
// k_native_publish_retry_first and then at twice the wait up to k_native_publish_retry_most,
// while the connection reads nothing more (the client feels TCP back-pressure), until
// k_native_publish_wait_max has passed: then it gets queue_full.
inline constexpr std::chrono::microseconds k_native_publish_retry_first{50};
inline constexpr std::chrono::microseconds k_native_publish_retry_most{1000};
inline constexpr std::chrono::milliseconds k_native_publish_wait_max{1000};
// A PUBLISH (with acks) of at least k_native_lend_min_bytes, whose events average 64 bytes or
// more (core::event_in's size), has its events read by the
// engine's workers straight from the frame as it was received, instead of copied into the
// ingest queue first (core::publish_options::borrowed); the reader's storage that holds the
// frame (protocol::frame_reader::kept_storage_bytes, or the frame's size if larger) is kept
// until the PUBLISH is answered. Smaller ones are copied as usual, and so is one that would
// make the storage kept for a connection's unanswered PUBLISHes more than
// k_native_lent_storage_bytes_max.
inline constexpr size_t k_native_lend_min_bytes = 32 * 1024;
inline constexpr size_t k_native_lent_storage_bytes_max = 32u << 20;
// Read size per receive call.
inline constexpr size_t k_native_read_bytes = 64 * 1024;
// Longest ERROR message sent.
inline constexpr size_t k_native_error_message_bytes_max = 1024;

struct native_options {
    // Largest frame accepted, announced in HELLO_OK (bytes).
    uint32_t max_frame_bytes = protocol::default_max_frame_bytes;
    // No frame received for this long closes the connection (ms).
    uint32_t idle_timeout_ms = 120'000;
    // HELLO must have arrived within this long of the connect (ms).
    uint32_t handshake_timeout_ms = 10'000;
    // A frame whose first byte has arrived must be whole within this long (ms).
    uint32_t frame_timeout_ms = 30'000;
    // A write to the client must make progress within this long (ms): a client that stopped
    // reading is disconnected, as NATS does a slow consumer past its write deadline. One that
    // reads slowly but steadily is kept (back-pressure slows its subscriptions instead).
    uint32_t write_timeout_ms = 30'000;
    // SO_SNDBUF of each connection (common/socket_buffers.h); 0: the kernel's autotuning.
    uint32_t send_buffer_bytes = k_default_socket_send_buffer_bytes;
    // Connections open at once; more are refused with ERROR queue_full.
    uint32_t connections_max = 10'000;
    // This node, for HELLO_OK and METADATA_INFO: its id and the host clients reach it at.
    uint32_t node_id = 1;
    std::string host = "127.0.0.1";
};

}  // namespace es::server
