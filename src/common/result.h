// result<T>: a value or an error, for expected failures (STYLE.md "Errors"). The error carries a
// code for programs and a message for people ("partitions must be 1..4096, got 0").
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "common/assert.h"
#include "common/errc.h"

namespace es {

struct error {
    errc code = errc::ok;
    std::string message;

    bool retryable() const noexcept { return is_retryable(code); }
};

inline error make_error(errc code, std::string message) {
    return error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] result {
  public:
    result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    result(error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    // REQUIRES: has_value().
    T& value() & {
        ES_ASSERT(has_value());
        return std::get<0>(v_);
    }
    const T& value() const& {
        ES_ASSERT(has_value());
        return std::get<0>(v_);
    }
    T&& value() && {
        ES_ASSERT(has_value());
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // REQUIRES: !has_value().
    const error& err() const& {
        ES_ASSERT(!has_value());
        return std::get<1>(v_);
    }
    error&& err() && {
        ES_ASSERT(!has_value());
        return std::get<1>(std::move(v_));
    }

  private:
    std::variant<T, error> v_;
};

// result<void>: success or an error.
template <>
class [[nodiscard]] result<void> {
  public:
    result() = default;
    result(error e) : e_(std::move(e)), ok_(false) {}  // NOLINT: implicit by design

    bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const error& err() const& {
        ES_ASSERT(!ok_);
        return e_;
    }
    error&& err() && {
        ES_ASSERT(!ok_);
        return std::move(e_);
    }

  private:
    error e_;
    bool ok_ = true;
};

using status = result<void>;

}  // namespace es

// Propagates an error from an expression returning result<...>; the enclosing function must
// return a result of any type.
#define ES_TRY(expr)                                       \
    do {                                                   \
        auto es_try_r_ = (expr);                           \
        if (!es_try_r_) return std::move(es_try_r_).err(); \
    } while (0)
