// Prometheus text exposition (format 0.0.4) of a registry, for the /metrics endpoint.
#pragma once

#include <string>
#include <string_view>

#include "metrics/registry.h"

namespace es::metrics {

// The Content-Type of write_prometheus output.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

// Appends the exposition of every family that has series to `out`, families in name order and
// series in label order:
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram
//   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
// Counters are exported under their registered name (which ends in _total). A histogram
// series gives <name>_bucket{...,le="<b>"} for each bound of le_bounds(its options) and
// le="+Inf", all cumulative, then <name>_sum and <name>_count; +Inf always equals _count.
// Boundaries and the sum are divided by histogram_options::unit_divisor; a bucket's count
// follows histogram_snapshot::cumulative_counts (a value within 1/32 below a bound may be
// counted only under the next one). Takes the registry's mutex; writers are not blocked.
void write_prometheus(const registry& reg, std::string& out);

}  // namespace es::metrics
