// Translates rocksdb::Status into our error codes. This is the only place where RocksDB's
// codes meet ours (STYLE.md: translate at the edges only).
#pragma once

#include <string_view>

#include <rocksdb/status.h>

#include "common/result.h"

namespace es::storage {

// The error for a failed RocksDB status, with `context` (what was being done, naming the path,
// topic or partition) in front of RocksDB's own message. Corruption is reported as io_error
// with the word "corrupt" in the message. REQUIRES: !s.ok().
error from_rocksdb(const rocksdb::Status& s, std::string_view context);

}  // namespace es::storage
