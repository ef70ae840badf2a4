// Events as an application sends and receives them through the client library.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eventstream/status.h"

namespace eventstream {

struct header {
    std::string name;  // at most 255 bytes
    std::string value;
};

// An event to publish.
struct event {
    std::optional<std::string> key;  // routes the event: stable_hash(key) mod partitions
    std::string value;
    std::vector<header> headers;
    int64_t timestamp_ns = 0;  // Unix ns; 0: the server stamps the append time
};

// An event to publish whose bytes stay the caller's (producer::send_copy copies them into its
// batch before it returns, so they need to live only for that call).
struct event_view {
    std::optional<std::string_view> key;
    std::string_view value;
    std::span<const header> headers;
    int64_t timestamp_ns = 0;
};

inline event_view view_of(const event& e) noexcept {
    event_view v;
    if (e.key) v.key = std::string_view(*e.key);
    v.value = e.value;
    v.headers = e.headers;
    v.timestamp_ns = e.timestamp_ns;
    return v;
}

// Where a published event landed.
struct delivery {
    std::string topic;
    uint32_t partition = 0;
    // -1 with acks=0, which gets no answer, and for a duplicate whose offset the partition no
    // longer remembers (it keeps a producer's last 5 batches).
    int64_t offset = -1;
    bool duplicate = false;  // an idempotent retry of a batch the server already had
};
using delivery_result = result<delivery>;

enum class record_kind : uint8_t {
    event,  // an event: every field below but gap_*
    gap,    // events [gap_first, gap_last] of the partition are gone (retention); skipped
};

// What a consumer receives: an event, or a notice of a gap in a partition.
struct consumer_record {
    record_kind kind = record_kind::event;
    std::string topic;
    uint32_t partition = 0;
    uint64_t offset = 0;
    int64_t timestamp_ns = 0;
    std::optional<std::string> key;
    std::string value;
    std::vector<header> headers;
    uint64_t gap_first = 0;  // kind == gap only
    uint64_t gap_last = 0;
};

}  // namespace eventstream
