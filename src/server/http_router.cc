// Routing by exact path and the shared JSON error responses.
#include "server/http_router.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace es::server {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::optional<std::string_view> http_request::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (iequals(n, name)) return v;
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
            return 503;
        case errc::timed_out:
            return 504;
        case errc::io_error:
            return 500;
    }
    return 500;
}

http_response json_error(const error& e) {
    return json_error(http_status_of(e.code), errc_name(e.code), e.message);
}

http_response json_ok(std::string body) {
    http_response r;
    r.body = std::move(body);
    return r;
}

void http_router::add(std::string_view method, std::string_view path, http_handler handler) {
    auto& methods = routes_[std::string(path)];
    methods.insert_or_assign(std::string(method), std::move(handler));
}

http_response http_router::route(const http_request& request) const {
    const auto by_path = routes_.find(request.path);
    if (by_path == routes_.end()) {
        return json_error(
            404, "not_found",
            "no route for " + std::string(request.method) + " " + std::string(request.path));
    }
    const auto& methods = by_path->second;
    if (const auto it = methods.find(request.method); it != methods.end()) {
        return it->second(request);
    }
    std::string allow;
    for (const auto& [method, handler] : methods) {
        if (!allow.empty()) allow += ", ";
        allow += method;
    }
    auto r = json_error(405, "method_not_allowed",
                        std::string(request.method) + " is not allowed on " +
                            std::string(request.path) + "; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
}

}  // namespace es::server
