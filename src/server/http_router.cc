// Routing by method and path pattern, and the shared JSON error responses.
#include "server/http_router.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "common/assert.h"

namespace es::server {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Splits "/a/b" into {"a", "b"}; "/" gives {""}.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (true) {
        const size_t slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

bool is_param(std::string_view segment) {
    return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

bool field_name_equals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%' && i + 2 < text.size()) {
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string_view http_request::param(std::string_view name) const {
    for (const auto& [n, v] : params) {
        if (n == name) return v;
    }
    return {};
}

std::optional<std::string> http_request::query_param(std::string_view name) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        const size_t amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        const size_t eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq), true) != name) continue;
        return eq == std::string_view::npos ? std::string()
                                            : percent_decode(pair.substr(eq + 1), true);
    }
    return std::nullopt;
}

std::optional<std::string_view> http_request::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (field_name_equals(n, name)) return v;
    }
    return std::nullopt;
}

http_response json_error(unsigned status, std::string_view code, std::string_view message) {
    const nlohmann::json doc = {
        {"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
    http_response r;
    r.status = status;
    r.body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

unsigned http_status_of(errc code) noexcept {
    switch (code) {
        case errc::ok:
            return 200;
        case errc::invalid_argument:
            return 400;
        case errc::config_error:
            return 400;
        case errc::not_found:
            return 404;
        case errc::already_exists:
            return 409;
        case errc::too_large:
            return 413;
        case errc::queue_full:
            return 429;
        case errc::not_supported:
            return 501;
        case errc::shutting_down:
        case errc::unavailable:
            return 503;
        case errc::not_leader:
            return 421;  // Misdirected Request: ask the leader the message names
        case errc::timed_out:
            return 504;
        case errc::io_error:
            return 500;
    }
    return 500;
}

http_response json_error(const error& e) {
    auto r = json_error(http_status_of(e.code), errc_name(e.code), e.message);
    // Back-pressure and shutdown are worth retrying soon; HTTP counts in whole seconds.
    if (e.code == errc::queue_full || e.code == errc::shutting_down ||
        e.code == errc::unavailable) {
        r.headers.emplace_back("Retry-After", "1");
    }
    return r;
}

http_response json_ok(std::string body) {
    http_response r;
    r.body = std::move(body);
    return r;
}

http_router::entry& http_router::entry_for(std::string_view pattern) {
    ES_ASSERT_MSG(!pattern.empty() && pattern.front() == '/', "route pattern must start with /");
    for (auto& e : entries_) {
        if (e.pattern == pattern) return e;
    }
    entry e;
    e.pattern = std::string(pattern);
    for (const auto segment : split_path(pattern)) {
        e.has_params |= is_param(segment);
        ES_ASSERT_MSG(is_param(segment) || segment.find_first_of("{}") == std::string_view::npos,
                      "a route parameter must be a whole segment");
        e.segments.emplace_back(segment);
    }
    // Literal patterns go before every pattern with parameters.
    auto at = e.has_params ? entries_.end()
                           : std::find_if(entries_.begin(), entries_.end(),
                                          [](const entry& x) { return x.has_params; });
    return *entries_.insert(at, std::move(e));
}

void http_router::add(std::string_view method, std::string_view pattern, http_handler handler) {
    entry_for(pattern).methods.insert_or_assign(
        std::string(method), std::pair(std::move(handler), http_async_handler()));
}

void http_router::add_async(std::string_view method, std::string_view pattern,
                            http_async_handler handler) {
    entry_for(pattern).methods.insert_or_assign(std::string(method),
                                                std::pair(http_handler(), std::move(handler)));
}

bool http_router::match(const entry& e, http_request& request) {
    request.params.clear();
    if (!e.has_params) return request.path == e.pattern;
    const auto parts = split_path(request.path);
    if (parts.size() != e.segments.size()) return false;
    for (size_t i = 0; i < parts.size(); ++i) {
        const std::string_view want = e.segments[i];
        if (is_param(want)) {
            if (parts[i].empty()) return false;
            request.params.emplace_back(want.substr(1, want.size() - 2),
                                        percent_decode(parts[i], false));
        } else if (parts[i] != want) {
            return false;
        }
    }
    return true;
}

void http_router::route(const http_request& request, const http_responder& respond) const {
    route(http_request(request), respond);
}

void http_router::route(http_request&& request, const http_responder& respond) const {
    http_request& matched = request;
    std::set<std::string, std::less<>> allowed;
    bool path_known = false;
    for (const auto& e : entries_) {
        if (!match(e, matched)) continue;
        path_known = true;
        if (const auto it = e.methods.find(request.method); it != e.methods.end()) {
            const auto& [sync, async] = it->second;
            if (sync) {
                respond(sync(matched));
            } else {
                async(matched, respond);
            }
            return;
        }
        for (const auto& [method, handler] : e.methods) allowed.insert(method);
    }
    if (!path_known) {
        respond(json_error(
            404, "not_found",
            "no route for " + std::string(request.method) + " " + std::string(request.path)));
        return;
    }
    std::string allow;
    for (const auto& method : allowed) {
        if (!allow.empty()) allow += ", ";
        allow += method;
    }
    auto r = json_error(405, "method_not_allowed",
                        std::string(request.method) + " is not allowed on " +
                            std::string(request.path) + "; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    respond(std::move(r));
}

http_response http_router::route(const http_request& request) const {
    std::optional<http_response> answer;
    route(request, [&answer](http_response r) { answer = std::move(r); });
    if (!answer) return json_error(500, "internal", "the handler did not answer at once");
    return std::move(*answer);
}

std::vector<http_route_info> http_router::routes() const {
    std::vector<http_route_info> out;
    for (const auto& e : entries_) {
        for (const auto& [method, handler] : e.methods) out.push_back({method, e.pattern});
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace es::server
