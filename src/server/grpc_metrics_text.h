// Prometheus text for QueryMetrics: keeping the series whose names start with given prefixes,
// and reading the samples back into name, labels and value.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace es::server {

struct metric_sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

// The lines of `text` (HELP, TYPE and samples) whose metric name starts with one of the
// prefixes; all of it when there are none.
std::string filter_metrics_text(std::string_view text, const std::vector<std::string>& prefixes);

// The samples of Prometheus text written by metrics::write_prometheus. Lines it cannot read are
// skipped.
std::vector<metric_sample> parse_metrics_text(std::string_view text);

}  // namespace es::server
