// Process-wide logging set-up. Code logs through spdlog's default logger (spdlog::info, ...);
// this file only chooses the format and the level.
#pragma once

#include <string_view>

#include "common/result.h"

namespace es {

enum class log_format { text, json };

// Installs the default logger on stderr. JSON lines carry ts, level, logger and msg, with the
// message escaped, so they can be fed to a log shipper as they are.
// REQUIRES: called once, early in main, before other threads log.
void init_logging(log_format format, std::string_view level);

// "trace" | "debug" | "info" | "warn" | "error" | "critical" | "off".
bool is_valid_log_level(std::string_view level) noexcept;

}  // namespace es
