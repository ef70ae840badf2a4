// Layout of one entry in a worker's ingest ring: a batch of events for one partition, with
// what the worker needs to find the partition and to report the outcome. Written by the
// dispatcher on the publishing thread, read in place by the worker.
//
//   offset  size  field
//   0       4     slot          the partition's slot in the owning worker's table
//   4       4     generation    the slot's generation when the batch was routed
//   8       2     partition     the partition's index in its topic (for the outcome)
//   10      2     flags         ingest_borrowed: the events are event_in values (below)
//   12      4     count         records in the batch (0: room claimed and given back, skipped)
//   16      8     completion    publish_completion::fn (0: none)
//   24      8     context       publish_completion::context
//   32      8     producer_id   idempotent producer (0: none)
//   40      8     sequence      the producer's number for the batch's first event
//   48      ...   records, back to back (record_format.h); or, with ingest_borrowed, `count`
//                 event_in objects whose bytes the publisher keeps alive until the batch's
//                 completion has run (publish_options::borrowed): the worker encodes them
//                 straight into the partition, and the events are copied once instead of twice
//
// A partition is named by slot and generation rather than by pointer: when its topic is
// deleted the worker bumps the slot's generation, so a batch routed before the delete finds a
// stale generation and is refused (not_found) instead of touching freed memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>

#include "core/batch.h"
#include "core/event.h"
#include "core/record_format.h"
#include "core/topic.h"

namespace es::core {

inline constexpr size_t ingest_header_bytes = 48;

enum ingest_flags : uint16_t { ingest_borrowed = 1 };

struct ingest_header {
    uint32_t slot = 0;
    uint32_t generation = 0;
    uint32_t partition = 0;
    uint32_t count = 0;
    publish_completion completion;
    uint64_t producer_id = 0;
    uint64_t sequence = 0;
    uint16_t flags = 0;
};

inline void write_ingest_header(std::byte* p, const ingest_header& h) noexcept {
    store_le<uint32_t>(p + 0, h.slot);
    store_le<uint32_t>(p + 4, h.generation);
    store_le<uint16_t>(p + 8, static_cast<uint16_t>(h.partition));
    store_le<uint16_t>(p + 10, h.flags);
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
    h.partition = load_le<uint16_t>(p + 8);
    h.flags = load_le<uint16_t>(p + 10);
    h.count = load_le<uint32_t>(p + 12);
    std::memcpy(&h.completion.fn, p + 16, sizeof h.completion.fn);
    std::memcpy(&h.completion.context, p + 24, sizeof h.completion.context);
    h.producer_id = load_le<uint64_t>(p + 32);
    h.sequence = load_le<uint64_t>(p + 40);
    return h;
}

static_assert(sizeof(void (*)(void*, const publish_outcome&)) == 8 && sizeof(void*) == 8,
              "the ingest header holds 64-bit pointers");
static_assert(max_partitions <= UINT16_MAX + 1, "the ingest header holds a partition in 16 bits");
static_assert(std::is_trivially_copyable_v<event_in> && std::is_trivially_destructible_v<event_in>,
              "a borrowed batch's events are placed in the ring and left there");
static_assert(ingest_header_bytes % alignof(event_in) == 0 &&
                  sizeof(event_in) % alignof(event_in) == 0,
              "a borrowed batch's events are aligned in the ring");

// Bytes of an entry's events after the header: the records, or the event_in values.
inline size_t borrowed_events_bytes(uint32_t count) noexcept {
    return size_t{count} * sizeof(event_in);
}

// The events of a borrowed entry. REQUIRES: h.flags & ingest_borrowed.
inline std::span<const event_in> borrowed_events(const std::byte* entry, uint32_t count) noexcept {
    return {std::launder(reinterpret_cast<const event_in*>(entry + ingest_header_bytes)), count};
}

// One entry's events, as the worker appends them: records, or the borrowed events.
struct ingest_events {
    bool borrowed = false;
    record_run run;                    // !borrowed
    std::span<const event_in> events;  // borrowed

    static ingest_events of(const ingest_header& h, std::span<const std::byte> entry) noexcept {
        ingest_events b;
        b.borrowed = (h.flags & ingest_borrowed) != 0;
        if (b.borrowed) {
            b.events = borrowed_events(entry.data(), h.count);
        } else {
            b.run = {entry.data() + ingest_header_bytes, entry.size() - ingest_header_bytes,
                     h.count};
        }
        return b;
    }
    // Without the first n events. REQUIRES: n <= the count.
    void drop_front(uint32_t n) noexcept {
        if (borrowed) {
            events = events.subspan(n);
        } else {
            run = drop_records(run, n);
        }
    }
};

}  // namespace es::core
