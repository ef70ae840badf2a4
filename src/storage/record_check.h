// Checks one record (core/record_format.h) before its sizes are trusted: records read back
// from disk are outside input, and a damaged one must give an error, not a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace es::storage {

// The size of the record at the front of `rest` when it is well formed, else 0. Well formed:
// the 32-byte header fits; record_bytes is exactly record_size(key, payload, headers) (so it is
// at least 32 and a multiple of 8) and fits in `rest`; the headers region is a sequence of
// whole entries; the offset field equals `expected_offset`; the timestamp is not 0.
size_t checked_record_size(std::span<const std::byte> rest, uint64_t expected_offset) noexcept;

}  // namespace es::storage
