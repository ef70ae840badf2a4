// The HTTP routing table: method + path pattern to handler (exact segments and `{name}`
// parameters), synchronous or asynchronous handlers, and the JSON error responses every HTTP
// endpoint shares. Free of Beast, so that handlers need not include it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace es::server {

// One parsed request, as handed to a handler. The views point into the connection's buffers and
// are valid only during the handler call.
struct http_request {
    std::string_view method;  // "GET"
    std::string_view target;  // "/v1/topics?limit=10", as sent
    std::string_view path;    // "/v1/topics" (not percent-decoded)
    std::string_view query;   // "limit=10", without '?'
    std::string_view body;
    // Header fields in the order sent; names as sent (compare with header()).
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    // Path parameters of the matched route ("{id}" -> "id"), percent-decoded. Set by route().
    std::vector<std::pair<std::string_view, std::string>> params;

    // The first header with this name, case-insensitively.
    std::optional<std::string_view> header(std::string_view name) const;
    // The path parameter `name`, or "" when the route has none of that name.
    std::string_view param(std::string_view name) const;
    // The first query parameter `name` ("a=1&b=x%20y": "b" -> "x y"), percent-decoded and '+'
    // read as a space; nullopt when absent. "a" alone gives "".
    std::optional<std::string> query_param(std::string_view name) const;

    // Sets target, and path and query split at the first '?' (views into `t`).
    void set_target(std::string_view t) noexcept {
        target = t;
        const auto question = t.find('?');
        path = t.substr(0, question);
        query = question == std::string_view::npos ? std::string_view() : t.substr(question + 1);
    }
};

struct http_response {
    unsigned status = 200;
    // A constant text (a literal or a constexpr view): nothing owns it.
    std::string_view content_type = "application/json";
    std::string body;
    // Extra header fields (Allow, Retry-After, ...).
    std::vector<std::pair<std::string, std::string>> headers;
};

// Handlers run on the connection's io thread: they must not block (no disk, no waiting on
// queues), see ARCHITECTURE.md "Threads".
using http_handler = std::function<http_response(const http_request&)>;

// Sends the response of an asynchronous handler. Call it exactly once, from any thread (the
// connection hands the response over to its own io thread); calling it after the connection closed
// is harmless.
using http_responder = std::function<void(http_response)>;
// An asynchronous handler answers through `respond`, now or later (after a publish completes,
// or a long poll). The request's views are valid only during the call: copy what the answer
// needs later.
using http_async_handler = std::function<void(const http_request&, http_responder respond)>;

// Whether two HTTP field names are equal, ignoring ASCII case.
bool field_name_equals(std::string_view a, std::string_view b) noexcept;

// Percent-decodes `text` ("%2F" -> "/"); with `plus_is_space`, '+' -> ' ' (query strings).
// A '%' not followed by two hex digits is kept as it is.
std::string percent_decode(std::string_view text, bool plus_is_space);

// {"error":{"code":"<code>","message":"<message>"}} with the given status. Invalid UTF-8 in the
// message (it may echo a request path) is replaced, never thrown on.
http_response json_error(unsigned status, std::string_view code, std::string_view message);

// The JSON error for an es::error, with the HTTP status its code maps to: invalid_argument and
// config_error 400, not_found 404, already_exists 409, not_leader 421, too_large 413,
// queue_full 429, io_error 500, not_supported 501, shutting_down and unavailable 503,
// timed_out 504. queue_full, shutting_down and unavailable add "Retry-After: 1".
http_response json_error(const error& e);
unsigned http_status_of(errc code) noexcept;

// A 200 response with a JSON body.
http_response json_ok(std::string body);

// One entry of the route table, as the OpenAPI check compares it with docs/openapi.yaml.
struct http_route_info {
    std::string method;   // "GET"
    std::string pattern;  // "/v1/events/{id}"

    auto operator<=>(const http_route_info&) const = default;
};

// Routes by method and path pattern. A pattern is a path whose segments are literal or a
// parameter "{name}" matching one non-empty segment ("/v1/topics/{name}" matches "/v1/topics/a"
// but not "/v1/topics/" or "/v1/topics/a/b"). Paths match segment by segment, exactly: no
// trailing-slash folding, no decoding of the literal parts.
//
// When several patterns match a path, the first one (in the order: patterns without parameters
// first, then in order of addition) that has a handler for the method wins; so
// "POST /v1/topics/subscribe" and "GET /v1/topics/{name}" live side by side.
//
// REQUIRES: all add() calls happen before the listener starts; route() is then safe from any
// thread (the table is read-only).
class http_router {
  public:
    // Replaces an earlier handler for the same method and pattern.
    // REQUIRES: `pattern` starts with '/', and each "{...}" is a whole segment.
    void add(std::string_view method, std::string_view pattern, http_handler handler);
    void add_async(std::string_view method, std::string_view pattern, http_async_handler handler);

    // Routes and calls `respond` once with the handler's response (at once for synchronous
    // handlers); or 404 (unknown path) or 405 with an Allow header (known path, other method),
    // both as JSON errors.
    void route(const http_request& request, const http_responder& respond) const;
    // The same, taking the request over (no copy of its header list; the listener's path).
    void route(http_request&& request, const http_responder& respond) const;

    // Synchronous form for handlers that answer at once (tests, fuzzers). An asynchronous handler
    // that has not answered when it returns gives 500.
    http_response route(const http_request& request) const;

    // Every method and pattern served, sorted.
    std::vector<http_route_info> routes() const;

  private:
    struct entry {
        std::string pattern;
        std::vector<std::string> segments;  // "{name}" for a parameter
        bool has_params = false;
        // method -> handler; exactly one of the two is set
        std::map<std::string, std::pair<http_handler, http_async_handler>, std::less<>> methods;
    };

    entry& entry_for(std::string_view pattern);
    // Fills request.params when `e` matches request.path.
    static bool match(const entry& e, http_request& request);

    std::vector<entry> entries_;  // without parameters first, then in order of addition
};

}  // namespace es::server
