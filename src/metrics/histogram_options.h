// How a histogram family is exported: its unit and the fixed set of `le` boundaries that the
// exposition computes from the fine log-linear buckets.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"

namespace es::metrics {

// The exported boundaries are the 1-2-5 steps (1, 2, 5, 10, 20, 50, ...) in recorded units
// that lie in [le_first, le_last], then +Inf. They are the same for every series of a family
// and every scrape, as Prometheus needs for rate() over buckets.
struct histogram_options {
    // Recorded units per exported unit. Prometheus wants base units, so a histogram that
    // records nanoseconds and is named *_seconds uses 1e9; 1 exports values as recorded.
    double unit_divisor = 1.0;
    // Lowest and highest exported boundary, in recorded units (rounded inwards onto the 1-2-5
    // steps); the defaults give 33 boundaries. REQUIRES: 1 <= le_first <= le_last <= 10^19.
    uint64_t le_first = 1;
    uint64_t le_last = 50'000'000'000;

    bool operator==(const histogram_options&) const = default;
};

// Latencies recorded in nanoseconds, exported in seconds, boundaries 100 ns .. 10 s
// (25 boundaries: 100 ns, 200 ns, 500 ns, 1 us, ...).
inline constexpr histogram_options latency_ns_options{1e9, 100, 10'000'000'000};

// invalid_argument unless the REQUIRES of histogram_options hold and unit_divisor is a finite
// number > 0.
status validate(const histogram_options& options);

// The exported boundaries, ascending, without +Inf.
// REQUIRES: validate(options) succeeded.
std::vector<uint64_t> le_bounds(const histogram_options& options);

}  // namespace es::metrics
