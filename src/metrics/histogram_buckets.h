// The log-linear bucket layout of histogram (after HdrHistogram): exact buckets for small
// values, then each power of two split into linear sub-buckets, so the relative width of a
// bucket is bounded over the whole uint64 range.
//
// Layout with sub_bucket_bits = 5 (32 sub-buckets):
//   index 0..63      value itself (width 1: values below 64 are exact)
//   index 64..1919   for each power of two 2^m, m = 6..63: 32 buckets of width 2^(m-5)
// So a bucket [lowest, highest] has width <= lowest / 32: recording a value costs at most
// 1/32 (3.1%) of relative error, and reporting a bucket's midpoint at most 1/64 (1.6%).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace es::metrics {

inline constexpr unsigned sub_bucket_bits = 5;
inline constexpr std::size_t sub_bucket_count = std::size_t{1} << sub_bucket_bits;
// Powers of two 2^5 .. 2^63 each give sub_bucket_count buckets; below 2^5 are the exact ones.
inline constexpr std::size_t histogram_bucket_count = (64 - sub_bucket_bits + 1) * sub_bucket_count;

// The bucket that holds v. Branch-free: for v < 2 * sub_bucket_count the shift is 0 and the
// index is v itself.
constexpr std::size_t bucket_index(uint64_t v) noexcept {
    const unsigned msb =
        63u - static_cast<unsigned>(std::countl_zero(v | (2 * sub_bucket_count - 1)));
    const unsigned shift = msb - sub_bucket_bits;
    return std::size_t{shift} * sub_bucket_count + static_cast<std::size_t>(v >> shift);
}

// The smallest value that bucket `index` holds.
// REQUIRES: index < histogram_bucket_count.
constexpr uint64_t bucket_lowest(std::size_t index) noexcept {
    if (index < 2 * sub_bucket_count) {
        return index;
    }
    const std::size_t shift = index / sub_bucket_count - 1;
    const uint64_t sub = index % sub_bucket_count + sub_bucket_count;
    return sub << shift;
}

// The largest value that bucket `index` holds.
// REQUIRES: index < histogram_bucket_count.
constexpr uint64_t bucket_highest(std::size_t index) noexcept {
    if (index < 2 * sub_bucket_count) {
        return index;
    }
    const std::size_t shift = index / sub_bucket_count - 1;
    return bucket_lowest(index) + ((uint64_t{1} << shift) - 1);
}

static_assert(bucket_index(0) == 0 && bucket_index(63) == 63 && bucket_index(64) == 64);
static_assert(bucket_index(~uint64_t{0}) == histogram_bucket_count - 1);
static_assert(bucket_highest(histogram_bucket_count - 1) == ~uint64_t{0});

}  // namespace es::metrics
