// The JSON form of events at the HTTP and WebSocket edges: decoding a publish body into events
// (checked against the limits of rest_limits.h, with messages that name the field), and encoding
// a stored event for a reader. Free of Beast and of the engine, so that a fuzzer can drive it.
//
// Publish body, one of:
//   {"topic": "t", "key"?: "k", "payload": <any JSON>, "headers"?: {"name": "value"},
//    "encoding"?: "json" | "base64"}
//   {"topic": "t", "events": [{"key"?, "payload", "headers"?, "encoding"?}, ...]}
//   [{"topic": "t", ...}, ...]  (every element names the same topic)
// With "encoding": "json" (the default) the stored payload is the value's compact JSON text;
// with "base64" the payload must be a string of padded base64 and the decoded bytes are stored.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "core/event.h"

namespace es::server {

struct decoded_event {
    std::optional<std::string> key;
    std::string payload;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct decoded_publish {
    std::string topic;
    std::vector<decoded_event> events;  // 1..k_events_per_request_max
    bool batch = false;                 // the body was a batch (answer with a list)
};

// Parses JSON text with the depth limit (k_json_depth_max). Error: invalid_argument saying where
// the text is not JSON, or that it nests too deep.
result<nlohmann::json> parse_json_body(std::string_view text);

// Decodes a parsed publish body (also a WebSocket publish message: extra fields listed in
// `allowed_extra` are ignored there). Errors: invalid_argument naming the field
// ("events[2].payload: ..."), too_large (more than k_events_per_request_max events, or too many
// headers).
result<decoded_publish> decode_publish(const nlohmann::json& body,
                                       std::initializer_list<std::string_view> allowed_extra = {});

// Both steps for an HTTP body.
result<decoded_publish> decode_publish_body(std::string_view body);

// Views for engine::publish into `decoded` (which must outlive them). `headers` holds the
// header views the events point into.
void make_event_views(const decoded_publish& decoded, std::vector<core::header_in>& headers,
                      std::vector<core::event_in>& events);

// How a payload is shown to a reader.
enum class payload_form {
    automatic,  // as a JSON value when the bytes are JSON text, else base64 with "encoding"
    base64,     // always base64 with "encoding": "base64"
};

// A stored event as JSON: id, topic, partition, offset, timestamp (Unix ms) and timestamp_ns,
// key (when it has one), payload (and encoding when base64), headers. Text that is not valid
// UTF-8 (keys, header values) is replaced with U+FFFD when dumped.
nlohmann::json event_json(std::string_view topic, uint32_t partition, const core::event_view& v,
                          payload_form form);
nlohmann::json event_json(std::string_view topic, uint32_t partition, uint64_t offset,
                          int64_t timestamp_ns, const std::optional<std::string>& key,
                          std::string_view payload,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          payload_form form);

// Dumps compactly; invalid UTF-8 replaced, never thrown on.
std::string dump_json(const nlohmann::json& doc);

}  // namespace es::server
