// Rules and limits for metric names, label names and label values (Prometheus data model).
#pragma once

#include <cstddef>
#include <string_view>

namespace es::metrics {

// Limits on what a registration may carry. Label values often come from outside (topic names),
// so they are bounded like every other outside input.
inline constexpr std::size_t max_metric_name_bytes = 200;
inline constexpr std::size_t max_help_bytes = 1024;
inline constexpr std::size_t max_labels_per_series = 8;
inline constexpr std::size_t max_label_name_bytes = 100;
inline constexpr std::size_t max_label_value_bytes = 1024;

// [a-zA-Z_:][a-zA-Z0-9_:]*, non-empty.
bool is_valid_metric_name(std::string_view name) noexcept;

// [a-zA-Z_][a-zA-Z0-9_]*, non-empty, and not starting with "__" (reserved for Prometheus).
bool is_valid_label_name(std::string_view name) noexcept;

}  // namespace es::metrics
