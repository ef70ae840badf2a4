// Quantiles, merging and cumulative bucket counts of histogram_snapshot.
#include "metrics/histogram_snapshot.h"

#include <algorithm>
#include <cmath>

#include "common/assert.h"

namespace es::metrics {

histogram_snapshot::histogram_snapshot() : buckets_(histogram_bucket_count, 0) {}

double histogram_snapshot::mean() const noexcept {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

uint64_t histogram_snapshot::quantile(double q) const noexcept {
    if (count_ == 0) {
        return 0;
    }
    // !(q > 0) also catches NaN.
    if (!(q > 0.0)) {
        return min();
    }
    if (q >= 1.0) {
        return max_;
    }
    const double wanted = std::ceil(q * static_cast<double>(count_));
    const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(wanted), uint64_t{1}, count_);
    uint64_t seen = 0;
    for (std::size_t i = 0; i < histogram_bucket_count; ++i) {
        seen += buckets_[i];
        if (seen >= rank) {
            const uint64_t lowest = bucket_lowest(i);
            uint64_t v = lowest + (bucket_highest(i) - lowest) / 2;
            // The true values lie in [min, max]; clamping makes the extreme buckets exact.
            v = std::max(v, min_);
            v = std::min(v, max_);
            return v;
        }
    }
    return max_;  // not reached: the buckets sum to count_
}

void histogram_snapshot::merge(const histogram_snapshot& other) {
    for (std::size_t i = 0; i < histogram_bucket_count; ++i) {
        buckets_[i] += other.buckets_[i];
    }
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

void histogram_snapshot::cumulative_counts(std::span<const uint64_t> bounds,
                                           std::span<uint64_t> out) const {
    ES_ASSERT(out.size() == bounds.size());
    std::size_t i = 0;
    uint64_t seen = 0;
    for (std::size_t b = 0; b < bounds.size(); ++b) {
        ES_ASSERT(b == 0 || bounds[b - 1] <= bounds[b]);
        while (i < histogram_bucket_count && bucket_highest(i) <= bounds[b]) {
            seen += buckets_[i];
            ++i;
        }
        out[b] = seen;
    }
}

}  // namespace es::metrics
