// CRC-32C: the reflected polynomial 0x82F63B78, with the instruction on x86-64 (SSE4.2, three
// streams at once over long inputs) and a slicing-by-8 table otherwise. Debian's RocksDB and
// libraft compute their CRCs a table entry at a time; this is why our Raft log does its own.
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

// The register after `n` zero bytes fed from register `c`, one bit at a time (slow: for tables).
constexpr uint32_t shift_slow(uint32_t c, size_t n) {
    for (size_t i = 0; i < 8 * n; ++i) c = (c >> 1) ^ ((c & 1u) ? k_polynomial : 0u);
    return c;
}

// Feeding zero bytes is linear in the register: shift(a ^ b) == shift(a) ^ shift(b). So the
// shift over a fixed length is four byte-indexed tables of 256 entries, built from the shifts
// of the 32 single bits.
struct shift_tables {
    std::array<std::array<uint32_t, 256>, 4> t{};
};

constexpr shift_tables make_shift_tables(size_t n) {
    std::array<uint32_t, 32> bit{};
    for (int i = 0; i < 32; ++i) bit[i] = shift_slow(uint32_t{1} << i, n);
    shift_tables s{};
    for (int k = 0; k < 4; ++k) {
        for (uint32_t b = 0; b < 256; ++b) {
            uint32_t v = 0;
            for (int j = 0; j < 8; ++j) {
                if (b & (1u << j)) v ^= bit[8 * k + j];
            }
            s.t[k][b] = v;
        }
    }
    return s;
}

inline uint32_t shift(const shift_tables& s, uint32_t c) {
    return s.t[0][c & 0xFF] ^ s.t[1][(c >> 8) & 0xFF] ^ s.t[2][(c >> 16) & 0xFF] ^ s.t[3][c >> 24];
}

#if defined(__x86_64__)
// The crc32 instruction takes 3 cycles but starts one every cycle: one CRC over a buffer waits
// on itself, three CRCs over its three thirds keep the unit busy. The thirds are then joined:
// the CRC of A followed by B, from A's register and B's computed from zero, is A's register
// shifted over B's length, XOR B's (linearity).
constexpr size_t k_stripe = 256;  // bytes per third
constexpr shift_tables k_shift_stripe = make_shift_tables(k_stripe);

__attribute__((target("sse4.2"))) uint32_t update_instruction(uint32_t c, const unsigned char* p,
                                                              size_t n) {
    uint64_t c0 = c;
    while (n >= 3 * k_stripe) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < k_stripe; i += 8) {
            uint64_t w0, w1, w2;
            std::memcpy(&w0, p + i, 8);
            std::memcpy(&w1, p + k_stripe + i, 8);
            std::memcpy(&w2, p + 2 * k_stripe + i, 8);
            c0 = __builtin_ia32_crc32di(c0, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        uint32_t joined =
            shift(k_shift_stripe, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
        joined = shift(k_shift_stripe, joined) ^ static_cast<uint32_t>(c2);
        c0 = joined;
        p += 3 * k_stripe;
        n -= 3 * k_stripe;
    }
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        c0 = __builtin_ia32_crc32di(c0, word);
        p += 8;
        n -= 8;
    }
    c = static_cast<uint32_t>(c0);
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
