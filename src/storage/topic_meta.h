// Topic metadata as stored in the default column family (store_format.h "topic/" keys): a JSON
// object, so that fields can be added later without a new format version.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "storage/log_store.h"

namespace es::storage {

// {"id", "name", "partitions", "storage", "replication_factor", "retention_bytes",
//  "retention_ms", "max_event_bytes"}.
std::string encode_topic_meta(const stored_topic& t);

// Reads what encode_topic_meta wrote. Unknown fields are ignored. Error: io_error saying which
// field is missing or malformed (the value came from disk, so a bad one is corruption).
// Checks types and that partitions is 1..core::max_partitions, not the other configuration
// rules, which may change between versions.
result<stored_topic> decode_topic_meta(std::string_view text);

}  // namespace es::storage
