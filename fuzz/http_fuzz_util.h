// What the HTTP fuzz targets share: the route table they drive (the node's real routes plus one
// that echoes request text into an error, as REST handlers will), the request the listener
// builds from a target, and the checks every response must pass.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "common/hash.h"
#include "metrics/registry.h"
#include "server/http_router.h"
#include "server/node.h"
#include "server/node_routes.h"

namespace es::fuzz {

// The node state the health routes report; set from each input so that both the 200 and the
// 503 answers are reached, and the same input always gets the same answers.
inline server::node_state& fuzz_node_state() {
    static server::node_state state = server::node_state::running;
    return state;
}

inline void set_node_state_from(std::string_view input) {
    // node_state has five values, created to stopped.
    fuzz_node_state() = static_cast<server::node_state>(stable_hash(input) % 5);
}

// Built on first use and read-only after, like the node's router once its listener starts.
inline const server::http_router& fuzz_router() {
    static metrics::registry registry;
    static const server::http_router router = [] {
        // Some series so that /metrics has a body; nothing updates them, so answers repeat.
        (void)registry.add_counter("eventstream_fuzz_requests_total", "requests");
        (void)registry.add_gauge("eventstream_fuzz_connections", "connections");
        server::http_router r;
        server::add_health_routes(
            r, [] { return fuzz_node_state(); }, 7);
        server::add_metrics_route(r, registry);
        r.add("POST", "/v1/echo", [](const server::http_request& request) {
            return server::json_error(
                400, "bad_request",
                "cannot take '" + std::string(request.body) + "' of type " +
                    std::string(request.header("Content-Type").value_or("none")) + " with query " +
                    std::string(request.query));
        });
        r.add("PUT", "/v1/echo", [](const server::http_request&) { return server::json_ok("{}"); });
        return r;
    }();
    return router;
}

// Every answer: a real status, JSON bodies that are valid JSON (so valid UTF-8 even when they
// echo the request), header fields that cannot split the response, and 405 with Allow.
inline void check_response(const server::http_response& r) {
    ES_ASSERT(r.status >= 100 && r.status <= 599);
    if (r.content_type == "application/json") {
        ES_ASSERT_MSG(!nlohmann::json::parse(r.body, nullptr, false).is_discarded(),
                      "a JSON response body is not valid JSON");
    }
    ES_ASSERT(r.content_type.find_first_of("\r\n") == std::string::npos);
    bool allow = false;
    for (const auto& [name, value] : r.headers) {
        ES_ASSERT_MSG(name.find_first_of("\r\n: ") == std::string::npos, "bad header name");
        ES_ASSERT_MSG(value.find_first_of("\r\n") == std::string::npos, "header value with CR/LF");
        allow = allow || name == "Allow";
    }
    if (r.status == 405) ES_ASSERT_MSG(allow, "405 without an Allow header");
}

}  // namespace es::fuzz
