// The client library's errors and result type: a value or an error, as every call of the public
// API returns. Self-contained, so that an application includes nothing of the engine's internals.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace eventstream {

// Codes 1..10 are the stable numbers of the native protocol's ERROR frame (docs/protocol.md);
// codes from 100 on arise in the client itself.
enum class error_code : uint16_t {
    ok = 0,
    invalid_argument = 1,   // the request breaks a rule; do not retry
    not_found = 2,          // no such topic, partition or subscription
    already_exists = 3,     // create of something that exists
    queue_full = 4,         // the server (or the producer's buffer) is full; retry later
    too_large = 5,          // a size limit was crossed (event, batch, frame)
    shutting_down = 6,      // the server is stopping; retry later
    not_supported = 7,      // the server does not have the feature
    io_error = 8,           // the server's operating system refused a file or socket operation
    timed_out = 9,          // a deadline passed
    config_error = 10,      // a configuration value is invalid
    not_leader = 11,        // that node does not lead the partition; the message names the leader
    unavailable = 12,       // no leader right now (an election is running); retry later
    connection_lost = 100,  // the connection broke before the answer came; retryable
    closed = 101,           // the client object was closed
    protocol_error = 102,   // the server sent something this client cannot read
};

// The short stable name of a code ("queue_full").
const char* error_code_name(error_code c) noexcept;

// True for codes that may succeed when retried as they are.
constexpr bool is_retryable(error_code c) noexcept {
    return c == error_code::queue_full || c == error_code::shutting_down ||
           c == error_code::timed_out || c == error_code::connection_lost ||
           c == error_code::unavailable;
}

struct error {
    error_code code = error_code::ok;
    std::string message;

    bool retryable() const noexcept { return is_retryable(code); }
    // "queue_full: partition 3's queue is full".
    std::string to_string() const { return std::string(error_code_name(code)) + ": " + message; }
};

// Thrown only by result::value() on an error (a programming mistake in the caller).
class bad_result_access : public std::logic_error {
  public:
    explicit bad_result_access(const error& e) : std::logic_error(e.to_string()) {}
};

template <class T>
class [[nodiscard]] result {
  public:
    result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
    result(error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT: implicit

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    // Throws bad_result_access on an error.
    T& value() & {
        check();
        return std::get<0>(v_);
    }
    const T& value() const& {
        check();
        return std::get<0>(v_);
    }
    T&& value() && {
        check();
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // REQUIRES: !has_value().
    const error& err() const& { return std::get<1>(v_); }
    error&& err() && { return std::get<1>(std::move(v_)); }

  private:
    void check() const {
        if (!has_value()) throw bad_result_access(std::get<1>(v_));
    }
    std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
  public:
    result() = default;
    result(error e) : e_(std::move(e)), ok_(false) {}  // NOLINT: implicit

    bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    // REQUIRES: !has_value().
    const error& err() const& { return e_; }
    error&& err() && { return std::move(e_); }

  private:
    error e_;
    bool ok_ = true;
};

using status = result<void>;

}  // namespace eventstream
