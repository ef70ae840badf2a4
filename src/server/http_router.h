// The HTTP routing table: method + path to handler, and the JSON error responses every HTTP
// endpoint shares. Free of Beast, so that handlers (health now, REST later) need not include it.
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

    // The first header with this name, case-insensitively.
    std::optional<std::string_view> header(std::string_view name) const;

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
    std::string content_type = "application/json";
    std::string body;
    // Extra header fields (Allow, Retry-After, ...).
    std::vector<std::pair<std::string, std::string>> headers;
};

// Handlers run on the connection's io thread: they must not block (no disk, no waiting on
// queues), see ARCHITECTURE.md "Threads".
using http_handler = std::function<http_response(const http_request&)>;

// {"error":{"code":"<code>","message":"<message>"}} with the given status. Invalid UTF-8 in the
// message (it may echo a request path) is replaced, never thrown on.
http_response json_error(unsigned status, std::string_view code, std::string_view message);

// The JSON error for an es::error, with the HTTP status its code maps to (not_found -> 404,
// queue_full -> 429, shutting_down -> 503, ...).
http_response json_error(const error& e);
unsigned http_status_of(errc code) noexcept;

// A 200 response with a JSON body.
http_response json_ok(std::string body);

// Exact-path routes. REQUIRES: all add() calls happen before the listener starts; route() is
// then safe from any thread (the table is read-only).
class http_router {
  public:
    // Replaces an earlier handler for the same method and path.
    void add(std::string_view method, std::string_view path, http_handler handler);

    // The handler's response; else 404 (unknown path) or 405 with an Allow header (known path,
    // other method), both as JSON errors.
    http_response route(const http_request& request) const;

  private:
    // path -> method -> handler
    std::map<std::string, std::map<std::string, http_handler, std::less<>>, std::less<>> routes_;
};

}  // namespace es::server
