// RocksDB checksums everything it writes and reads with CRC-32C: each WAL record, each blob
// record, each SST block. Debian builds RocksDB portable, without SSE4.2, so its CRC-32C is
// table code, 8 bytes a step. A profile of one durable node publishing 1 KiB events spent a
// third of all CPU in that loop (bench/RESULTS.md, 2026-11-28).
//
// Every caller inside librocksdb reaches the loop through one exported function,
// rocksdb::crc32c::Extend, through the PLT (37 call sites in 7.8.3, no direct call). A
// definition of that function in the executable comes first in the dynamic linker's lookup, so
// RocksDB's calls land here, on es::crc32c and the crc32 instruction. This is the mechanism
// that lets a program bring its own malloc. The contract is the standard one, the CRC-32C of
// what came before extended by `size` bytes, so files written either way read either way.
//
// If a RocksDB build renamed or changed the function, our definition would simply go unused
// and RocksDB would keep its own: rocksdb_crc32c_accelerated() tells which, and the node logs
// it at its first store open.
#include "storage/rocksdb_crc32c.h"

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>

#include "common/crc32c.h"

namespace rocksdb::crc32c {

// The declaration of RocksDB's util/crc32c.h (an internal header, not installed): the CRC-32C
// of A followed by data[0, size), where init_crc is the CRC-32C of A.
uint32_t Extend(uint32_t init_crc, const char* data, size_t size);

uint32_t Extend(uint32_t init_crc, const char* data, size_t size) {
    return es::crc32c(data, size, init_crc);
}

}  // namespace rocksdb::crc32c

namespace es::storage {

namespace {
// The mangled name of rocksdb::crc32c::Extend(unsigned int, char const*, unsigned long), as
// librocksdb exports it and as the link exports ours (src/storage/CMakeLists.txt).
constexpr const char* k_extend_symbol = "_ZN7rocksdb6crc32c6ExtendEjPKcm";
}  // namespace

bool rocksdb_crc32c_accelerated() {
    // The first definition in the global lookup order is the one librocksdb's PLT binds to.
    void* bound = dlsym(RTLD_DEFAULT, k_extend_symbol);
    return bound == reinterpret_cast<void*>(&rocksdb::crc32c::Extend) && crc32c_uses_instruction();
}

}  // namespace es::storage
