// The status line and header fields of an HTTP/1.1 response, written straight into a reused
// buffer: the listener's hot path, in place of a Beast message and its serializer (a heap node
// per field and a type-erased buffer sequence per write). The bytes are the ones Beast wrote
// for the same response (http_response_head_test compares them).
#pragma once

#include <string>

#include "server/http_router.h"

namespace es::server {

// Appends to `out`: "HTTP/1.1 <status> <reason>", Server, Content-Type, the response's extra
// header fields (a later field replaces an earlier one of the same name, case-insensitively,
// as Beast's set() does), "Connection: close" unless `keep_alive`, Content-Length of the body,
// and the empty line. The body itself is not written.
// REQUIRES: r.status is 200..999 and not 204 or 304 (those carry no body); r.headers holds no
// Connection, Content-Length or Transfer-Encoding (framing is the listener's business).
void append_response_head(std::string& out, const http_response& r, bool keep_alive);

}  // namespace es::server
