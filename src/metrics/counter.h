// counter: a monotonic 64-bit count (events in, bytes out, errors), sharded per thread so that
// inc() is a plain add on the caller's own cache line.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/cache.h"
#include "metrics/sharded.h"
#include "metrics/thread_slot.h"

namespace es::metrics {

// Usable alone or through registry. Memory: 2 KiB of shard pointers, plus 128 bytes for each
// thread slot that has incremented it. Wraps modulo 2^64 (not reached in practice).
class counter {
  public:
    counter() = default;
    counter(const counter&) = delete;
    counter& operator=(const counter&) = delete;

    // Adds n. Any thread; lock-free and uncontended (except for threads on shared_slot).
    void inc(uint64_t n = 1) noexcept {
        const std::size_t slot = this_thread_slot();
        detail::shard_add(shards_.local(slot).value, n, slot == shared_slot);
    }

    // The sum over all threads. Any thread. Increments that happen-before this call are
    // counted; concurrent ones may or may not be.
    uint64_t value() const noexcept {
        uint64_t total = 0;
        shards_.for_each([&](const shard& s) { total += s.value.load(std::memory_order_relaxed); });
        return total;
    }

  private:
    struct alignas(false_sharing_bytes) shard {
        std::atomic<uint64_t> value{0};
    };

    detail::sharded<shard> shards_;
};

}  // namespace es::metrics
