// histogram_snapshot: the merged state of a histogram at one moment, for quantiles and export.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "metrics/histogram_buckets.h"

namespace es::metrics {

// A plain value: copyable, mergeable, not thread-safe. count() is the sum of the buckets, so
// the buckets and the count always agree even when taken during concurrent records; sum, min
// and max are read separately and may lag or lead by the records in flight.
class histogram_snapshot {
  public:
    // An empty snapshot (count 0).
    histogram_snapshot();

    uint64_t count() const noexcept { return count_; }
    // Sum of the recorded values, modulo 2^64.
    uint64_t sum() const noexcept { return sum_; }
    // Smallest and largest recorded values, exact; 0 when empty.
    uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    uint64_t max() const noexcept { return max_; }
    // sum / count; 0 when empty.
    double mean() const noexcept;

    // The value at quantile q in [0, 1], by nearest rank: the bucket that holds the
    // ceil(q * count)-th smallest value (at least the first), reported as that bucket's
    // midpoint clamped to [min, max]. Values below 64 are exact; above, the answer is within
    // 1/64 (1.6%) of a value in the bucket. q <= 0 gives min() and q >= 1 gives max(),
    // exactly. 0 when empty.
    uint64_t quantile(double q) const noexcept;

    // Adds other's values to this one, as if both had been recorded in one histogram.
    void merge(const histogram_snapshot& other);

    // The count of fine bucket `index` (see histogram_buckets.h).
    // REQUIRES: index < histogram_bucket_count.
    uint64_t bucket(std::size_t index) const noexcept { return buckets_[index]; }

    // For each bound b in `bounds` (ascending), the count of values in the fine buckets whose
    // highest value is <= b. That is every value <= b except those that share a bucket with
    // b + 1 (within 1/32 of b below it), which the next bound counts: exported buckets thus
    // never claim a value is <= b when it may not be. Writes bounds.size() counts to out.
    // REQUIRES: out.size() == bounds.size(), bounds ascending.
    void cumulative_counts(std::span<const uint64_t> bounds, std::span<uint64_t> out) const;

  private:
    friend class histogram;

    std::vector<uint64_t> buckets_;  // histogram_bucket_count entries
    uint64_t count_ = 0;
    uint64_t sum_ = 0;
    uint64_t min_ = ~uint64_t{0};
    uint64_t max_ = 0;
};

}  // namespace es::metrics
