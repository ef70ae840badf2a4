// CRC-32C (Castagnoli), the checksum our own on-disk files carry: the SSE4.2 crc32 instruction
// where the CPU has it, a table otherwise (same result either way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace es {

// CRC-32C of `data`, continued from `crc` (the CRC of what came before; 0 to start), so that
// crc32c(b, crc32c(a)) == crc32c(a followed by b). Thread-safe.
[[nodiscard]] uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

inline uint32_t crc32c(std::span<const std::byte> data, uint32_t crc = 0) {
    return crc32c(data.data(), data.size(), crc);
}

// The table version alone, whatever the CPU has: tests compare it with crc32c().
[[nodiscard]] uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc = 0);

// True when crc32c() uses the CPU's instruction.
[[nodiscard]] bool crc32c_uses_instruction();

}  // namespace es
