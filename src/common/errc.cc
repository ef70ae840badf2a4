// std::error_category for es::errc.
#include "common/errc.h"

#include <string>

namespace es {
namespace {

class category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "eventstream"; }
    std::string message(int code) const override { return errc_name(static_cast<errc>(code)); }
};

}  // namespace

const std::error_category& eventstream_category() noexcept {
    static const category instance;
    return instance;
}

bool is_retryable(errc e) noexcept {
    return e == errc::queue_full || e == errc::shutting_down || e == errc::timed_out ||
           e == errc::unavailable;
}

const char* errc_name(errc e) noexcept {
    switch (e) {
        case errc::ok:
            return "ok";
        case errc::invalid_argument:
            return "invalid_argument";
        case errc::not_found:
            return "not_found";
        case errc::already_exists:
            return "already_exists";
        case errc::queue_full:
            return "queue_full";
        case errc::too_large:
            return "too_large";
        case errc::shutting_down:
            return "shutting_down";
        case errc::not_supported:
            return "not_supported";
        case errc::io_error:
            return "io_error";
        case errc::timed_out:
            return "timed_out";
        case errc::config_error:
            return "config_error";
        case errc::not_leader:
            return "not_leader";
        case errc::unavailable:
            return "unavailable";
    }
    return "unknown";
}

}  // namespace es
