// libFuzzer target for the HTTP router: arbitrary method, target (query strings, percent signs,
// long paths, bytes that are not UTF-8) and body, routed over the node's routes.
// Input: method '\n' target '\n' body; a missing part is empty.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/assert.h"
#include "http_fuzz_util.h"
#include "server/http_router.h"

// The router takes a request Beast has already parsed, not a byte stream, so there are no
// chunks to split here; http_request_fuzz feeds whole requests to Beast in split chunks.

namespace {

// The part of `rest` before the first '\n', and `rest` moves past it.
std::string_view take_line(std::string_view& rest) {
    const size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    es::fuzz::set_node_state_from(rest);
    es::server::http_request request;
    request.method = take_line(rest);
    request.set_target(take_line(rest));
    request.body = rest;

    // Handler exceptions are findings too: the listener would turn them into a 500.
    const auto response = es::fuzz::fuzz_router().route(request);
    es::fuzz::check_response(response);
    // Routing is a pure function of the request.
    ES_ASSERT(es::fuzz::fuzz_router().route(request).body == response.body);
    return 0;
}
