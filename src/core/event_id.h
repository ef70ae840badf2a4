// Event ids: a URL-safe text that names topic, partition and offset, so that an event is found
// from its id without a scan. The form is "<topic>.<partition>.<offset>" in decimal, e.g.
// "orders.3.1042"; topic names may contain '.', so the two numbers are read from the right.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace es::core {

struct event_id {
    std::string topic;
    uint32_t partition = 0;
    uint64_t offset = 0;
};

std::string format_event_id(std::string_view topic, uint32_t partition, uint64_t offset);

// Error: invalid_argument, saying what is wrong with the text.
result<event_id> parse_event_id(std::string_view text);

}  // namespace es::core
