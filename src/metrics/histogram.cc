// Shard set-up and snapshot of histogram.
#include "metrics/histogram.h"

#include <algorithm>

namespace es::metrics {

histogram::shard::shard() noexcept {
    for (auto& b : buckets) {
        b.store(0, std::memory_order_relaxed);
    }
}

histogram_snapshot histogram::snapshot() const {
    histogram_snapshot snap;
    shards_.for_each([&](const shard& s) {
        // Relaxed loads: each field is read on its own; see histogram_snapshot for what that
        // means while records are in flight.
        for (std::size_t i = 0; i < histogram_bucket_count; ++i) {
            const uint64_t n = s.buckets[i].load(std::memory_order_relaxed);
            snap.buckets_[i] += n;
            snap.count_ += n;
        }
        snap.sum_ += s.sum.load(std::memory_order_relaxed);
        snap.min_ = std::min(snap.min_, s.min.load(std::memory_order_relaxed));
        snap.max_ = std::max(snap.max_, s.max.load(std::memory_order_relaxed));
    });
    return snap;
}

}  // namespace es::metrics
