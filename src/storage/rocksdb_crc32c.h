// RocksDB's CRC-32C on the CPU's instruction (rocksdb_crc32c.cc says how and why).
#pragma once

namespace es::storage {

// True when RocksDB's checksums in this process run on our CRC-32C and the CPU's crc32
// instruction, false when they run on RocksDB's own table code (a RocksDB whose internal
// function differs from the one we replace, or a CPU without SSE4.2). Either way the checksums
// are the same numbers; only the speed differs. log_store::open logs which it is.
[[nodiscard]] bool rocksdb_crc32c_accelerated();

}  // namespace es::storage
