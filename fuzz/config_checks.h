// Checks shared by the configuration fuzz targets: what any configuration load_config accepts,
// and any error it gives, must look like.
#pragma once

#include <optional>
#include <string>

#include "common/assert.h"
#include "common/config.h"

namespace es::fuzz {

inline env_reader empty_environment() {
    return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

// An accepted configuration passes validate(), and every field's shown value (the start-up log
// and --help print it; an operator may paste it back into a file) parses back to itself.
inline void check_accepted(const node_config& config) {
    ES_ASSERT_MSG(validate(config), "load_config returned a configuration validate() refuses");
    for (const auto& field : config_fields()) {
        const std::string shown = field.show(config);
        node_config again;
        ES_ASSERT_MSG(field.parse(again, shown), "a field's shown value does not parse back");
        ES_ASSERT_MSG(field.show(again) == shown, "a field's shown value parses to another one");
    }
}

// Bad configuration is a config_error with a message for the operator.
inline void check_refused(const error& e) {
    ES_ASSERT(e.code == errc::config_error);
    ES_ASSERT(!e.message.empty());
}

}  // namespace es::fuzz
