// Writing a response's status line and header fields.
#include "server/http_response_head.h"

#include <ostream>  // before Beast's status.hpp, which uses std::ostream without including it

#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "common/assert.h"

namespace es::server {
namespace {

void append_number(std::string& out, uint64_t n) {
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, end);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
}

// Whether a later extra field has the name of the one at `index`, and so replaces it.
bool replaced_later(const http_response& r, size_t index) {
    const auto& name = r.headers[index].first;
    for (size_t j = index + 1; j < r.headers.size(); ++j) {
        if (field_name_equals(r.headers[j].first, name)) return true;
    }
    return false;
}

bool has_extra(const http_response& r, std::string_view name) {
    return std::any_of(r.headers.begin(), r.headers.end(),
                       [name](const auto& h) { return field_name_equals(h.first, name); });
}

}  // namespace

void append_response_head(std::string& out, const http_response& r, bool keep_alive) {
    ES_ASSERT_MSG(r.status >= 200 && r.status <= 999 && r.status != 204 && r.status != 304,
                  "a response of this listener has a status that carries a body");
    out += "HTTP/1.1 ";
    append_number(out, r.status);
    out += ' ';
    const auto reason =
        boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(r.status));
    out.append(reason.data(), reason.size());
    out += "\r\n";
    // An extra field named like one written here replaces it, and goes where the extra field
    // stands (Beast's set() erases the old field and appends the new one).
    if (!has_extra(r, "Server")) append_field(out, "Server", "eventstream");
    if (!has_extra(r, "Content-Type")) append_field(out, "Content-Type", r.content_type);
    for (size_t i = 0; i < r.headers.size(); ++i) {
        const auto& [name, value] = r.headers[i];
        ES_ASSERT_MSG(!field_name_equals(name, "Connection") &&
                          !field_name_equals(name, "Content-Length") &&
                          !field_name_equals(name, "Transfer-Encoding"),
                      "response framing fields are the listener's");
        if (!replaced_later(r, i)) append_field(out, name, value);
    }
    if (!keep_alive) out += "Connection: close\r\n";
    out += "Content-Length: ";
    append_number(out, r.body.size());
    out += "\r\n\r\n";
}

}  // namespace es::server
