// Hashing used for placement decisions that must be stable across nodes and versions
// (partition of a key), so it is spelled out here rather than taken from std::hash.
#pragma once

#include <cstdint>
#include <string_view>

namespace es {

// 64-bit FNV-1a over the bytes, then a murmur3 finalizer so that the low bits mix well
// (the partition is taken modulo a small count). Stable: changing it re-partitions every key.
constexpr uint64_t stable_hash(std::string_view bytes) noexcept {
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : bytes) {
        h ^= static_cast<uint8_t>(c);
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

}  // namespace es
