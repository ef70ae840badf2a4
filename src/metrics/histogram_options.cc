// Checks histogram_options and expands them into exported `le` boundaries.
#include "metrics/histogram_options.h"

#include <cmath>
#include <limits>
#include <string>

namespace es::metrics {
namespace {

constexpr uint64_t le_max = 10'000'000'000'000'000'000ull;

}  // namespace

status validate(const histogram_options& options) {
    if (!std::isfinite(options.unit_divisor) || !(options.unit_divisor > 0.0)) {
        return make_error(errc::invalid_argument, "histogram unit_divisor must be a number > 0");
    }
    if (options.le_first < 1 || options.le_first > options.le_last || options.le_last > le_max) {
        return make_error(errc::invalid_argument,
                          "histogram boundaries need 1 <= le_first <= le_last <= 10^19, got " +
                              std::to_string(options.le_first) + " .. " +
                              std::to_string(options.le_last));
    }
    return {};
}

std::vector<uint64_t> le_bounds(const histogram_options& options) {
    std::vector<uint64_t> out;
    constexpr uint64_t steps[] = {1, 2, 5};
    for (uint64_t decade = 1;; decade *= 10) {
        for (uint64_t step : steps) {
            if (decade > std::numeric_limits<uint64_t>::max() / step) {
                return out;
            }
            const uint64_t v = step * decade;
            if (v > options.le_last) {
                return out;
            }
            if (v >= options.le_first) {
                out.push_back(v);
            }
        }
        if (decade > std::numeric_limits<uint64_t>::max() / 10) {
            return out;
        }
    }
}

}  // namespace es::metrics
