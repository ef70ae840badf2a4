// What a subscriber asks for, as the REST body of POST /v1/topics/subscribe, a WebSocket
// subscribe message and /v1/stream's query parameters share it:
//   topic        required
//   group        consumer group (1..255 of [A-Za-z0-9._-]); needed by start "committed"
//   start        "latest" (default) | "earliest" | "offset" | "timestamp" | "committed"
//   offset       with start "offset": the first offset, in every partition asked for
//   timestamp_ms with start "timestamp": the first event at or after this Unix time in ms
//   fallback     with start "committed": "latest" (default) or "earliest" where the group
//                never committed
//   partitions   list of partition numbers (default: all)
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/subscription.h"

namespace es::server {

struct subscription_spec {
    std::string topic;
    std::string group;
    core::start_position start = core::start_position::latest();
    std::vector<uint32_t> partitions;
};

// From a JSON object; fields other than the ones above and `allowed_extra` are refused.
// Error: invalid_argument naming the field.
result<subscription_spec> subscription_spec_of(
    const nlohmann::json& body, std::initializer_list<std::string_view> allowed_extra = {});

// From query parameters: `get(name)` gives a parameter's value or nullopt; "partitions" is a
// comma-separated list. Error: invalid_argument naming the parameter.
result<subscription_spec> subscription_spec_of_query(
    const std::function<std::optional<std::string>(std::string_view)>& get);

}  // namespace es::server
