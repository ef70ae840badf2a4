// Reads the body primitives of the native protocol (frame_format.h) from a frame body, which is
// outside input. The first failure sticks: later reads return zero values, and finish() gives
// the error with the name of the field that failed ("events[3].key: runs past the end of the
// frame"), so decoders read a whole message and check once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/result.h"

namespace es::protocol {

class wire_reader {
  public:
    explicit wire_reader(std::string_view body) : body_(body) {}

    uint8_t u8(const char* field) { return get<uint8_t>(field); }
    uint16_t u16(const char* field) { return get<uint16_t>(field); }
    uint32_t u32(const char* field) { return get<uint32_t>(field); }
    uint64_t u64(const char* field) { return get<uint64_t>(field); }
    int64_t i64(const char* field) { return get<int64_t>(field); }
    // A u8 that must be 0 or 1.
    bool boolean(const char* field);
    // A u8 that must be at most `max` (an enum's last value).
    uint8_t enum_u8(const char* field, uint8_t max);
    // str: u16 length + bytes; longer than `max_bytes` fails with too_large.
    std::string_view str(const char* field, size_t max_bytes = UINT16_MAX);
    // bytes: u32 length + bytes.
    std::string_view bytes(const char* field);
    // `n` bytes as they are.
    std::string_view raw(const char* field, size_t n);
    // A u32 count of entries that take at least `min_entry_bytes` each; fails when they cannot
    // fit in what is left (so that no caller reserves memory for a count that lies) or when the
    // count is above `max_count` (too_large).
    uint32_t count(const char* field, size_t min_entry_bytes, uint32_t max_count = UINT32_MAX);

    // Names the array entry being read, for error messages: enter("events", 3) ... leave().
    void enter(const char* array, size_t index);
    void leave();

    // Records a failure of the field (only the first one is kept).
    void fail(errc code, const char* field, std::string what);

    bool ok() const noexcept { return ok_; }
    size_t remaining() const noexcept { return body_.size() - at_; }

    // The message decoded, or the first error; bytes left after the message are an error.
    template <class T>
    result<T> finish(T value) {
        if (ok_ && at_ != body_.size()) {
            fail(errc::invalid_argument, "body",
                 std::to_string(body_.size() - at_) + " bytes left after the end of the message");
        }
        if (!ok_) return make_error(error_code_, std::move(message_));
        return value;
    }

  private:
    template <class T>
    T get(const char* field) {
        T v{};
        if (!ok_) return v;
        if (remaining() < sizeof v) {
            truncated(field);
            return v;
        }
        std::memcpy(&v, body_.data() + at_, sizeof v);  // the wire is little-endian, as we are
        at_ += sizeof v;
        return v;
    }
    void truncated(const char* field);
    std::string path(const char* field) const;

    struct context {
        const char* array;
        size_t index;
    };
    static constexpr size_t max_depth = 4;

    std::string_view body_;
    size_t at_ = 0;
    context contexts_[max_depth]{};
    size_t depth_ = 0;
    bool ok_ = true;
    errc error_code_ = errc::ok;
    std::string message_;
};

}  // namespace es::protocol
