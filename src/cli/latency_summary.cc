// Latency figures of esctl bench (latency_summary.h).
#include "cli/latency_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace es::cli {

namespace {

int64_t at_rank(const std::vector<int64_t>& sorted, double q) {
    const size_t n = sorted.size();
    size_t rank = static_cast<size_t>(std::ceil(q * double(n)));
    rank = std::clamp<size_t>(rank, 1, n);
    return sorted[rank - 1];
}

std::string micros(int64_t ns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", double(ns) / 1000.0);
    return buf;
}

}  // namespace

latency_summary summarize(std::vector<int64_t>& samples) {
    latency_summary s;
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    s.count = samples.size();
    s.min_ns = samples.front();
    s.max_ns = samples.back();
    s.p50_ns = at_rank(samples, 0.50);
    s.p90_ns = at_rank(samples, 0.90);
    s.p99_ns = at_rank(samples, 0.99);
    s.p999_ns = at_rank(samples, 0.999);
    s.mean_ns = std::accumulate(samples.begin(), samples.end(), 0.0) / double(samples.size());
    return s;
}

std::string format_summary(const latency_summary& s) {
    return "p50 " + micros(s.p50_ns) + " us  p90 " + micros(s.p90_ns) + " us  p99 " +
           micros(s.p99_ns) + " us  p99.9 " + micros(s.p999_ns) + " us  max " + micros(s.max_ns) +
           " us  (" + std::to_string(s.count) + " samples)";
}

nlohmann::json summary_json(const latency_summary& s) {
    auto us = [](double ns) { return std::round(ns / 100.0) / 10.0; };
    return {{"count", s.count},       {"min_us", us(s.min_ns)},  {"p50_us", us(s.p50_ns)},
            {"p90_us", us(s.p90_ns)}, {"p99_us", us(s.p99_ns)},  {"p99_9_us", us(s.p999_ns)},
            {"max_us", us(s.max_ns)}, {"mean_us", us(s.mean_ns)}};
}

std::string ascii_histogram(const std::vector<int64_t>& sorted, int width) {
    if (sorted.empty()) return "";
    // Buckets in microseconds: [lo, 2*lo), from the power of two at or below the minimum.
    int64_t lo = 1;
    const int64_t min_us = std::max<int64_t>(sorted.front() / 1000, 1);
    while (lo * 2 <= min_us) lo *= 2;
    std::vector<std::pair<int64_t, uint64_t>> buckets;  // lower bound (us), count
    size_t i = 0;
    for (int64_t b = lo; i < sorted.size(); b *= 2) {
        uint64_t n = 0;
        while (i < sorted.size() && sorted[i] / 1000 < b * 2) ++n, ++i;
        buckets.emplace_back(b, n);
    }
    uint64_t most = 0;
    for (const auto& [b, n] : buckets) most = std::max(most, n);
    std::string out;
    char label[48];
    for (const auto& [b, n] : buckets) {
        std::snprintf(label, sizeof label, "%9lld-%-9lld us |", static_cast<long long>(b),
                      static_cast<long long>(b * 2));
        const int bar = most ? static_cast<int>((n * uint64_t(width) + most - 1) / most) : 0;
        out += label;
        out += std::string(bar, '#') + std::string(width - bar, ' ');
        out += "| " + std::to_string(n) + "\n";
    }
    return out;
}

}  // namespace es::cli
