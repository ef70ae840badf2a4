// Latency figures of esctl bench: exact percentiles of the recorded samples and a small ASCII
// histogram with power-of-two buckets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace es::cli {

struct latency_summary {
    uint64_t count = 0;
    int64_t min_ns = 0;
    int64_t p50_ns = 0;
    int64_t p90_ns = 0;
    int64_t p99_ns = 0;
    int64_t p999_ns = 0;
    int64_t max_ns = 0;
    double mean_ns = 0;
};

// Sorts `samples_ns` and reads the percentiles (nearest rank). All zero when empty.
latency_summary summarize(std::vector<int64_t>& samples_ns);

// "p50 12.3 us  p90 ...": one line.
std::string format_summary(const latency_summary& s);
// {"count", "min_us", "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "mean_us"}.
nlohmann::json summary_json(const latency_summary& s);

// Rows "  16-32 us |#####       | 1234" for sorted samples, buckets doubling from the smallest
// power of two at or below the minimum; at most `width` characters of bar.
std::string ascii_histogram(const std::vector<int64_t>& sorted_samples_ns, int width = 40);

}  // namespace es::cli
