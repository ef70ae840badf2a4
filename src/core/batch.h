// Batches of encoded records: record_run (a view of back-to-back records, what a partition
// appends), event_batch (a heap buffer that builds one), and what a publisher is told about
// the fate of its batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "common/errc.h"
#include "common/result.h"
#include "core/event.h"

namespace es::core {

// What happened to one batch: accepted with the offsets it got, or refused with a code.
struct publish_outcome {
    errc code = errc::ok;
    uint32_t partition = 0;
    uint64_t base_offset = 0;  // offset of the batch's first event when code == ok
    uint32_t count = 0;        // events in the batch
    // Idempotent producers: the batch had been appended before and was not appended again;
    // base_offset is where it went when known_offset (the partition keeps a producer's last
    // few batches), else 0.
    bool duplicate = false;
    bool known_offset = true;
    // Idempotent producers: the batch's first `duplicate_head` events (fewer than count) had
    // been appended before and only the rest went in, at base_offset. That is a retry cut
    // into batches differently from the first send (by a node with a smaller ingest queue,
    // after a failover) whose batch straddles the next sequence number the partition expects.
    // head_base_offset is where the head went when head_known_offset.
    uint32_t duplicate_head = 0;
    bool head_known_offset = false;
    uint64_t head_base_offset = 0;
};

// Called once per queued batch, on the owning worker's thread after the append (or the refusal
// of a batch whose topic was deleted meanwhile). It must not block, call the engine's admin
// methods (they wait for the workers) or publish with backpressure::block.
struct publish_completion {
    void (*fn)(void* context, const publish_outcome&) = nullptr;
    void* context = nullptr;

    void operator()(const publish_outcome& o) const {
        if (fn) fn(context, o);
    }
    explicit operator bool() const noexcept { return fn != nullptr; }
};

// Checks one event against a topic's limit before it is encoded. The message says which part
// is too large.
status validate_event(const event_in& e, size_t max_event_bytes);

// Size of the record that encodes `e`.
size_t encoded_size(const event_in& e) noexcept;

// Records stored back to back (layout in record_format.h).
struct record_run {
    const std::byte* data = nullptr;
    size_t bytes = 0;
    uint32_t count = 0;
};

// The run without its first `n` records. REQUIRES: n <= run.count.
record_run drop_records(const record_run& run, uint32_t n) noexcept;

// Calls f(const event_view&) for each record of the run, in order.
template <class F>
void for_each_event(const record_run& run, F&& f) {
    const std::byte* p = run.data;
    for (uint32_t i = 0; i < run.count; ++i) {
        const event_view v = event_view::of(p);
        f(v);
        p += v.record.size();
    }
}

class event_batch {
    struct extra_bytes {
        size_t n;
    };

  public:
    // A batch with room for `capacity_bytes` of records.
    static std::unique_ptr<event_batch> create(size_t capacity_bytes);

    // Encodes `e` at the end. Returns false, changing nothing, when it does not fit.
    // REQUIRES: validate_event(e) succeeded.
    [[nodiscard]] bool append(const event_in& e) noexcept;

    uint32_t count() const noexcept { return count_; }
    size_t bytes() const noexcept { return bytes_; }
    size_t capacity() const noexcept { return capacity_; }
    const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
    std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }

    record_run records() const noexcept { return {data(), bytes_, count_}; }

    static void operator delete(void* p) { ::operator delete(p); }

  private:
    explicit event_batch(size_t capacity) : capacity_(capacity) {}
    static void* operator new(size_t size, extra_bytes extra) {
        return ::operator new(size + extra.n);
    }
    static void operator delete(void* p, extra_bytes) { ::operator delete(p); }

    size_t capacity_;
    size_t bytes_ = 0;
    uint32_t count_ = 0;
};

static_assert(sizeof(event_batch) % record_alignment == 0, "records start 8-byte aligned");

// Encodes `e` into `out`, which has room for encoded_size(e) bytes; returns that size.
size_t encode_record(const event_in& e, std::byte* out) noexcept;

}  // namespace es::core
