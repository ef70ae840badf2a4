// Byte layout of one event record. The same layout is used in a producer's batch, in a memory
// partition's segments and in what a subscriber receives, so an event is encoded once and then
// only copied. Reader and writer both use the helpers here.
//
// A record, little-endian, starting and ending on an 8-byte boundary:
//
//   offset  size  field
//   0       4     record_bytes    the whole record, header and padding included
//   4       4     key_bytes
//   8       4     payload_bytes
//   12      2     headers_bytes   size of the headers region (at most max_headers_bytes)
//   14      2     flags           bit 0: the event has a key (an empty key is still a key)
//   16      8     timestamp_ns    Unix time; 0 in a producer batch means "stamp on append"
//   24      8     offset          assigned by the partition; 0 in a producer batch
//   32      ...   key, payload, headers region, then zero padding to 8 bytes
//
// The headers region is a sequence of: u16 name_bytes, u32 value_bytes, name, value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace es::core {

inline constexpr size_t record_header_bytes = 32;
inline constexpr size_t record_alignment = 8;
inline constexpr size_t header_entry_overhead_bytes = 6;  // u16 name length + u32 value length

// Limits on what one event may carry (STYLE.md: a limit on everything from outside).
inline constexpr size_t max_headers_bytes = 64 * 1024 - 1;
inline constexpr size_t max_header_name_bytes = 255;
inline constexpr size_t max_event_bytes_limit = 64 * 1024 * 1024;  // hard ceiling per topic

enum record_flags : uint16_t { record_has_key = 1 };

namespace record_field {
inline constexpr size_t record_bytes = 0;
inline constexpr size_t key_bytes = 4;
inline constexpr size_t payload_bytes = 8;
inline constexpr size_t headers_bytes = 12;
inline constexpr size_t flags = 14;
inline constexpr size_t timestamp_ns = 16;
inline constexpr size_t offset = 24;
}  // namespace record_field

template <class T>
inline T load_le(const std::byte* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);  // x86-64 and AArch64 Linux are little-endian
    return v;
}

template <class T>
inline void store_le(std::byte* p, T v) noexcept {
    std::memcpy(p, &v, sizeof v);
}

// Appends v, little-endian, to out (for the small encoders of commands and snapshots).
template <class T>
inline void append_le(std::vector<std::byte>& out, T v) {
    const size_t at = out.size();
    out.resize(at + sizeof v);
    store_le<T>(out.data() + at, v);
}

constexpr size_t align_record(size_t n) noexcept {
    return (n + record_alignment - 1) & ~(record_alignment - 1);
}

// Size of the encoded record for the given parts.
constexpr size_t record_size(size_t key, size_t payload, size_t headers) noexcept {
    return align_record(record_header_bytes + key + payload + headers);
}

}  // namespace es::core
