// Prometheus naming rules for names.h.
#include "metrics/names.h"

namespace es::metrics {
namespace {

bool is_letter_or_underscore(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
    if (name.empty() || is_digit(name.front())) {
        return false;
    }
    for (char c : name) {
        if (!is_letter_or_underscore(c) && !is_digit(c) && c != ':') {
            return false;
        }
    }
    return true;
}

bool is_valid_label_name(std::string_view name) noexcept {
    if (name.empty() || is_digit(name.front()) || name.starts_with("__")) {
        return false;
    }
    for (char c : name) {
        if (!is_letter_or_underscore(c) && !is_digit(c)) {
            return false;
        }
    }
    return true;
}

}  // namespace es::metrics
