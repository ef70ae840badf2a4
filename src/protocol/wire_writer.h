// Appends the body primitives of the native protocol (frame_format.h) to a string: fixed-size
// little-endian integers, str (u16 length + bytes) and bytes (u32 length + bytes).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "protocol/frame_format.h"

namespace es::protocol {

class wire_writer {
  public:
    explicit wire_writer(std::string& out) : out_(out) {}

    template <class T>
    void put(T v) {
        char b[sizeof v];
        std::memcpy(b, &v, sizeof v);  // x86-64 and AArch64 Linux are little-endian
        out_.append(b, sizeof v);
    }
    void u8(uint8_t v) { put(v); }
    void u16(uint16_t v) { put(v); }
    void u32(uint32_t v) { put(v); }
    void u64(uint64_t v) { put(v); }
    void i64(int64_t v) { put(v); }
    void boolean(bool v) { put(static_cast<uint8_t>(v ? 1 : 0)); }
    // REQUIRES: s.size() <= 65535 (callers keep names and messages within their limits).
    void str(std::string_view s) {
        ES_ASSERT(s.size() <= UINT16_MAX);
        u16(static_cast<uint16_t>(s.size()));
        out_.append(s);
    }
    // REQUIRES: b.size() < 4 GiB.
    void bytes(std::string_view b) {
        ES_ASSERT(b.size() <= UINT32_MAX);
        u32(static_cast<uint32_t>(b.size()));
        out_.append(b);
    }
    void raw(std::string_view b) { out_.append(b); }

  private:
    std::string& out_;
};

// Writes a frame header whose frame_bytes is filled in by finish(), once the body is written.
class frame_builder {
  public:
    frame_builder(std::string& out, message_type type, uint64_t request_id)
        : out_(out), start_(out.size()) {
        wire_writer w(out_);
        w.u32(0);
        w.u16(static_cast<uint16_t>(type));
        w.u16(0);
        w.u64(request_id);
    }
    wire_writer body() { return wire_writer(out_); }
    // `bytes_after`: bytes of this frame that the caller sends after the ones written here.
    // REQUIRES: the frame is below 4 GiB (the caller keeps it within max_frame_bytes).
    void finish(size_t bytes_after = 0) {
        const size_t n = out_.size() - start_ + bytes_after;
        ES_ASSERT(n <= UINT32_MAX);
        const auto v = static_cast<uint32_t>(n);
        std::memcpy(out_.data() + start_, &v, sizeof v);
    }

  private:
    std::string& out_;
    size_t start_;
};

}  // namespace es::protocol
