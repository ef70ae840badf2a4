// Record checks for data read from disk.
#include "storage/record_check.h"

#include "core/record_format.h"

namespace es::storage {

size_t checked_record_size(std::span<const std::byte> rest, uint64_t expected_offset) noexcept {
    using namespace es::core;
    if (rest.size() < record_header_bytes) return 0;
    const std::byte* p = rest.data();
    const uint64_t size = load_le<uint32_t>(p + record_field::record_bytes);
    const uint64_t key = load_le<uint32_t>(p + record_field::key_bytes);
    const uint64_t payload = load_le<uint32_t>(p + record_field::payload_bytes);
    const uint64_t headers = load_le<uint16_t>(p + record_field::headers_bytes);
    // 64-bit sums: the three 32-bit fields cannot overflow them.
    if (size != record_size(key, payload, headers) || size > rest.size()) return 0;
    if (load_le<uint64_t>(p + record_field::offset) != expected_offset) return 0;
    if (load_le<int64_t>(p + record_field::timestamp_ns) == 0) return 0;
    // The headers region must be whole entries, as headers_view walks it without checks.
    const std::byte* h = p + record_header_bytes + key + payload;
    const std::byte* const h_end = h + headers;
    while (h != h_end) {
        if (static_cast<size_t>(h_end - h) < header_entry_overhead_bytes) return 0;
        const size_t entry = header_entry_overhead_bytes + load_le<uint16_t>(h) +
                             static_cast<size_t>(load_le<uint32_t>(h + 2));
        if (entry > static_cast<size_t>(h_end - h)) return 0;
        h += entry;
    }
    return static_cast<size_t>(size);
}

}  // namespace es::storage
