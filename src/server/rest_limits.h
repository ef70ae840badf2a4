// Limits of the REST and WebSocket edges (STYLE.md: every value from outside has a named limit).
// Each crossing gives a clear error that names the limit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace es::server {

// POST /v1/events and WebSocket publish: most events in one request or message.
inline constexpr size_t k_events_per_request_max = 1000;
// Largest WebSocket message, in bytes; the same as the HTTP listener's body limit
// (http_listener_options::body_bytes_max).
inline constexpr uint64_t k_message_bytes_max = 1 << 20;
// Most headers on one event, and longest header name, in bytes.
inline constexpr size_t k_event_headers_max = 64;
inline constexpr size_t k_header_name_bytes_max = 256;
// JSON nesting depth accepted in a request body (nlohmann recurses per level).
inline constexpr size_t k_json_depth_max = 64;

// Long-poll subscriptions (POST /v1/topics/subscribe).
inline constexpr size_t k_http_subscriptions_max = 10'000;
// GET /v1/subscriptions/{id}/events: most events per answer and longest wait.
inline constexpr uint32_t k_poll_events_max = 10'000;
inline constexpr uint32_t k_poll_events_default = 100;
inline constexpr uint32_t k_poll_wait_ms_max = 30'000;
// A long-poll subscription not polled for this long is ended (its client is gone).
inline constexpr uint32_t k_subscription_idle_ms = 60'000;
// How often idle subscriptions are looked for.
inline constexpr uint32_t k_subscription_reap_interval_ms = 1'000;
// Per partition of a subscription: events and bytes the server buffers for it before the
// subscriber takes them (the feed's credit towards the engine).
inline constexpr uint32_t k_subscription_buffered_events_max = 1024;
inline constexpr uint64_t k_subscription_buffered_bytes_max = 1 << 20;

// WebSocket /v1/stream.
inline constexpr size_t k_websocket_connections_max = 1'000;
inline constexpr size_t k_websocket_subscriptions_max = 16;
// Credit a client may have granted and not yet used; more closes with 1008.
inline constexpr uint64_t k_websocket_credit_max = 1 << 20;
// Messages waiting to be written to a client (events, replies); a client that lets more pile up
// by not reading is closed with 1008.
inline constexpr size_t k_websocket_outgoing_messages_max = 1024;
inline constexpr uint64_t k_websocket_outgoing_bytes_max = 16 << 20;
// Events taken from the subscriptions per pass before other work on the connection runs.
inline constexpr uint32_t k_websocket_events_per_pass = 256;
// The opening handshake must finish in this time; a connection idle this long is pinged, and
// closed when the ping goes unanswered as long again.
inline constexpr uint32_t k_websocket_handshake_timeout_ms = 10'000;
inline constexpr uint32_t k_websocket_idle_timeout_ms = 30'000;
// How long a stopping node waits for a WebSocket client to answer its close frame (1001).
inline constexpr uint32_t k_shutdown_close_ms = 500;

}  // namespace es::server
