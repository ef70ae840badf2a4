// histogram: distribution of uint64 values (latencies in ns, sizes in bytes) in log-linear
// buckets, recorded per thread without locks. Usable alone (benchmarks record from several
// threads, then take one snapshot for p50/p99/p99.9) or through registry.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/cache.h"
#include "metrics/histogram_buckets.h"
#include "metrics/histogram_snapshot.h"
#include "metrics/sharded.h"
#include "metrics/thread_slot.h"

namespace es::metrics {

// Memory: 2 KiB of shard pointers, plus about 15 KiB for each thread slot that has recorded.
class histogram {
  public:
    histogram() = default;
    histogram(const histogram&) = delete;
    histogram& operator=(const histogram&) = delete;

    // Records one value. Any thread; lock-free, and uncontended except for threads on
    // shared_slot. Touches the shard's summary line and one bucket line.
    void record(uint64_t value) noexcept {
        const std::size_t slot = this_thread_slot();
        const bool shared = slot == shared_slot;
        shard& s = shards_.local(slot);
        detail::shard_add(s.buckets[bucket_index(value)], 1, shared);
        detail::shard_add(s.sum, value, shared);
        detail::shard_min(s.min, value, shared);
        detail::shard_max(s.max, value, shared);
    }

    // All threads' records merged. Any thread; records that happen-before the call are in it,
    // concurrent ones may or may not be. Costs a pass over every shard (15 KiB each).
    histogram_snapshot snapshot() const;

  private:
    struct alignas(false_sharing_bytes) shard {
        shard() noexcept;

        std::atomic<uint64_t> sum{0};
        std::atomic<uint64_t> min{~uint64_t{0}};
        std::atomic<uint64_t> max{0};
        std::atomic<uint64_t> buckets[histogram_bucket_count];
    };

    detail::sharded<shard> shards_;
};

}  // namespace es::metrics
