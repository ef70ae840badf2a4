// What every esctl command shares (cli_common.h).
#include "cli/cli_common.h"

#include <iostream>

namespace es::cli {

eventstream::connection_options connection_for(const global_options& g) {
    eventstream::connection_options o;
    o.server = g.server;
    o.client_name = "esctl";
    return o;
}

int fail(const std::string& what, const eventstream::error& e) {
    std::cerr << "esctl: " << what << ": " << e.to_string() << "\n";
    return exit_error;
}

std::optional<eventstream::acks> parse_acks(const std::string& text) {
    if (text == "0" || text == "none") return eventstream::acks::none;
    if (text == "1" || text == "leader") return eventstream::acks::leader;
    if (text == "all" || text == "-1") return eventstream::acks::all;
    return std::nullopt;
}

}  // namespace es::cli
