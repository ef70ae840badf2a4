// CRC-32C: the reflected polynomial 0x82F63B78, with the instruction on x86-64 (SSE4.2) and a
// slicing-by-8 table otherwise. Debian's RocksDB and libraft compute their CRCs a table entry at
// a time; this is why our Raft log does its own.
#include "common/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

namespace es {
namespace {

constexpr uint32_t k_polynomial = 0x82F63B78u;  // CRC-32C, bit-reversed

// tables[k][b]: the CRC of byte b followed by k zero bytes (slicing-by-8).
using crc_tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr crc_tables make_tables() {
    crc_tables t{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1u) ? k_polynomial : 0u);
        t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b) {
        for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
    }
    return t;
}

constexpr crc_tables k_tables = make_tables();

uint32_t update_portable(uint32_t c, const unsigned char* p, size_t n) {
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
        word ^= c;
        c = k_tables[7][word & 0xFF] ^ k_tables[6][(word >> 8) & 0xFF] ^
            k_tables[5][(word >> 16) & 0xFF] ^ k_tables[4][(word >> 24) & 0xFF] ^
            k_tables[3][(word >> 32) & 0xFF] ^ k_tables[2][(word >> 40) & 0xFF] ^
            k_tables[1][(word >> 48) & 0xFF] ^ k_tables[0][word >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) c = (c >> 8) ^ k_tables[0][(c ^ *p++) & 0xFFu];
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t update_instruction(uint32_t c, const unsigned char* p,
                                                              size_t n) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        c64 = __builtin_ia32_crc32di(c64, word);
        p += 8;
        n -= 8;
    }
    c = static_cast<uint32_t>(c64);
    while (n-- > 0) c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}

bool cpu_has_instruction() {
    return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t update_instruction(uint32_t c, const unsigned char* p, size_t n) {
    return update_portable(c, p, n);
}

bool cpu_has_instruction() {
    return false;
}
#endif

const bool k_use_instruction = cpu_has_instruction();

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
    const auto* p = static_cast<const unsigned char*>(data);
    const uint32_t c = ~crc;
    return ~(k_use_instruction ? update_instruction(c, p, size) : update_portable(c, p, size));
}

uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc) {
    return ~update_portable(~crc, static_cast<const unsigned char*>(data), size);
}

bool crc32c_uses_instruction() {
    return k_use_instruction;
}

}  // namespace es
