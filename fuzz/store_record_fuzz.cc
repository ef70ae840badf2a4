// Fuzz target: records read back from the store (outside input: a damaged disk or a foreign
// writer can put anything there). The input's first 8 bytes are the expected first offset, the
// rest a batch of records. Whatever checked_record_size() accepts is then walked with the
// trusting views the engine uses (event_view, headers_view): every byte they touch must lie
// inside the accepted record, which ASan checks, and the fields must add up, which the asserts
// below check. The batch is also checked cut into chunks, each chunk in a heap block of its own
// size, as a reader with a short buffer would see it: a record cut by a boundary must be
// refused, never read past the end of its chunk.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "core/event.h"
#include "core/record_format.h"
#include "fuzz_util.h"
#include "storage/record_check.h"

namespace {

// Checks and walks every record of `bytes` (copied to its own exact-size heap block, so that
// ASan sees a read past its end). Returns the records accepted.
size_t walk(std::string_view text, uint64_t first_offset) {
    auto owned = std::make_unique<std::byte[]>(text.size() + 1);
    std::memcpy(owned.get(), text.data(), text.size());
    std::span<const std::byte> rest(owned.get(), text.size());
    uint64_t offset = first_offset;
    size_t accepted = 0;
    while (!rest.empty()) {
        const size_t size = es::storage::checked_record_size(rest, offset);
        if (size == 0) break;
        FUZZ_CHECK(size <= rest.size() && size >= es::core::record_header_bytes && size % 8 == 0);
        const es::core::event_view v = es::core::event_view::of(rest.data());
        FUZZ_CHECK(v.offset == offset);
        FUZZ_CHECK(v.record.size() == size);
        FUZZ_CHECK(v.key.size() + v.payload.size() + v.headers.raw().size() +
                       es::core::record_header_bytes <=
                   size);
        size_t header_bytes = 0;
        for (const es::core::header_in h : v.headers) {
            header_bytes += es::core::header_entry_overhead_bytes + h.name.size() + h.value.size();
            // Touch the bytes so that a view past the record is caught.
            volatile char sink = 0;
            for (char c : h.name) sink ^= c;
            for (char c : h.value) sink ^= c;
            (void)sink;
        }
        FUZZ_CHECK(header_bytes == v.headers.raw().size());
        rest = rest.subspan(size);
        ++offset;
        ++accepted;
    }
    return accepted;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 8) return 0;
    uint64_t first = 0;
    std::memcpy(&first, data, 8);
    const std::string_view batch(reinterpret_cast<const char*>(data) + 8, size - 8);
    walk(batch, first);
    for (std::string_view chunk : es::fuzz::split_chunks(batch)) walk(chunk, first);
    return 0;
}
