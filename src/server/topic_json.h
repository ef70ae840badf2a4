// Topic configuration and description as JSON, for POST/GET /v1/topics.
//
// Config: {"name": "orders", "partitions"?: 3, "storage"?: "memory" | "durable",
//          "replication_factor"?: 1, "retention_bytes"?: N, "retention_ms"?: N,
//          "max_event_bytes"?: N}; omitted fields take topic_config's defaults.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "core/engine.h"

namespace es::server {

// Error: invalid_argument naming the field (unknown field, wrong type, negative or too large
// number). The rules of the values themselves are checked by the engine.
result<core::topic_config> topic_config_of(const nlohmann::json& body);

// {"name", "partitions", "storage", "replication_factor", "retention_bytes", "retention_ms",
//  "max_event_bytes", "id"}, and with `with_partitions` a "partition_detail" list of
// {"partition", "start_offset", "end_offset", "stored_bytes"}.
nlohmann::json topic_json(const core::topic_info& info, bool with_partitions);

}  // namespace es::server
