// One event copied out of a partition, owning its bytes: what a lookup by id returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/event.h"

namespace es::core {

struct event_record {
    uint32_t partition = 0;
    uint64_t offset = 0;
    int64_t timestamp_ns = 0;
    std::optional<std::string> key;  // absent when the event has no key
    std::string payload;
    std::vector<std::pair<std::string, std::string>> headers;  // in the order they were given

    // Copies the event a record view points at.
    static event_record of(uint32_t partition, const event_view& v);
};

}  // namespace es::core
