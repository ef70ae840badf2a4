// Layout of one entry in a worker's ingest ring: a batch of records for one partition, with
// what the worker needs to find the partition and to report the outcome. Written by the
// dispatcher on the publishing thread, read in place by the worker.
//
//   offset  size  field
//   0       4     slot          the partition's slot in the owning worker's table
//   4       4     generation    the slot's generation when the batch was routed
//   8       4     partition     the partition's index in its topic (for the outcome)
//   12      4     count         records in the batch (0: room claimed and given back, skipped)
//   16      8     completion    publish_completion::fn (0: none)
//   24      8     context       publish_completion::context
//   32      8     producer_id   idempotent producer (0: none)
//   40      8     sequence      the producer's number for the batch's first event
//   48      ...   records, back to back (record_format.h)
//
// A partition is named by slot and generation rather than by pointer: when its topic is
// deleted the worker bumps the slot's generation, so a batch routed before the delete finds a
// stale generation and is refused (not_found) instead of touching freed memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/batch.h"
#include "core/record_format.h"

namespace es::core {

inline constexpr size_t ingest_header_bytes = 48;

struct ingest_header {
    uint32_t slot = 0;
    uint32_t generation = 0;
    uint32_t partition = 0;
    uint32_t count = 0;
    publish_completion completion;
    uint64_t producer_id = 0;
    uint64_t sequence = 0;
};

inline void write_ingest_header(std::byte* p, const ingest_header& h) noexcept {
    store_le<uint32_t>(p + 0, h.slot);
    store_le<uint32_t>(p + 4, h.generation);
    store_le<uint32_t>(p + 8, h.partition);
    store_le<uint32_t>(p + 12, h.count);
    std::memcpy(p + 16, &h.completion.fn, sizeof h.completion.fn);
    std::memcpy(p + 24, &h.completion.context, sizeof h.completion.context);
    store_le<uint64_t>(p + 32, h.producer_id);
    store_le<uint64_t>(p + 40, h.sequence);
}

inline ingest_header read_ingest_header(const std::byte* p) noexcept {
    ingest_header h;
    h.slot = load_le<uint32_t>(p + 0);
    h.generation = load_le<uint32_t>(p + 4);
    h.partition = load_le<uint32_t>(p + 8);
    h.count = load_le<uint32_t>(p + 12);
    std::memcpy(&h.completion.fn, p + 16, sizeof h.completion.fn);
    std::memcpy(&h.completion.context, p + 24, sizeof h.completion.context);
    h.producer_id = load_le<uint64_t>(p + 32);
    h.sequence = load_le<uint64_t>(p + 40);
    return h;
}

static_assert(sizeof(void (*)(void*, const publish_outcome&)) == 8 && sizeof(void*) == 8,
              "the ingest header holds 64-bit pointers");

}  // namespace es::core
