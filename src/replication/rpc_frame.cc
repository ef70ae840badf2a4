// Encoding and incremental decoding of node-to-node request frames (layout in rpc_frame.h).
#include "replication/rpc_frame.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace es::replication {
namespace {

void put_u16(std::byte* out, uint16_t v) {
    out[0] = std::byte(v & 0xff);
    out[1] = std::byte(v >> 8);
}

void put_u32(std::byte* out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[i] = std::byte(v >> (8 * i));
}

void put_u64(std::byte* out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[i] = std::byte(v >> (8 * i));
}

uint64_t get_le(const std::byte* in, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(in[i]) << (8 * i);
    return v;
}

}  // namespace

std::array<std::byte, k_rpc_request_header_bytes> encode_rpc_request_header(uint64_t request_id,
                                                                            size_t body_bytes) {
    ES_ASSERT(body_bytes <= k_rpc_body_bytes_max);
    std::array<std::byte, k_rpc_request_header_bytes> out{};
    put_u32(out.data(), static_cast<uint32_t>(8 + body_bytes));
    put_u64(out.data() + 4, request_id);
    return out;
}

std::array<std::byte, k_rpc_reply_header_bytes> encode_rpc_reply_header(uint64_t request_id,
                                                                        uint16_t code,
                                                                        size_t body_bytes) {
    ES_ASSERT(body_bytes <= k_rpc_body_bytes_max);
    std::array<std::byte, k_rpc_reply_header_bytes> out{};
    put_u32(out.data(), static_cast<uint32_t>(10 + body_bytes));
    put_u64(out.data() + 4, request_id);
    put_u16(out.data() + 12, code);
    return out;
}

errc rpc_code_to_errc(uint16_t code) noexcept {
    // The last value of es::errc (common/errc.h); codes past it come from a newer node.
    constexpr uint16_t last = static_cast<uint16_t>(errc::unavailable);
    if (code == 0 || code > last) return errc::io_error;
    return static_cast<errc>(code);
}

std::span<std::byte> rpc_frame_reader::next_buffer() {
    if (state_ != state::need_more) return {};
    if (!in_body_) {
        return std::span<std::byte>(header_.data() + header_have_, header_bytes() - header_have_);
    }
    // Grow the body a step at a time: memory follows the bytes that really arrived.
    if (frame_.body.size() == body_have_) {
        const size_t grow = std::min(k_read_step_bytes, body_want_ - body_have_);
        frame_.body.resize(body_have_ + grow);
    }
    return std::span<std::byte>(frame_.body.data() + body_have_, frame_.body.size() - body_have_);
}

rpc_frame_reader::state rpc_frame_reader::refuse(errc code, std::string why) {
    error_code_ = code;
    error_ = std::move(why);
    frame_.body.clear();
    frame_.body.shrink_to_fit();
    return state_ = state::malformed;
}

rpc_frame_reader::state rpc_frame_reader::advance(size_t n) {
    ES_ASSERT(state_ == state::need_more);
    if (!in_body_) {
        ES_ASSERT(n <= header_bytes() - header_have_);
        header_have_ += n;
        if (header_have_ < header_bytes()) return state_;
        const size_t fixed = header_bytes() - 4;
        const uint64_t length = get_le(header_.data(), 4);
        if (length < fixed) {
            return refuse(errc::invalid_argument, "frame length " + std::to_string(length) +
                                                      " is shorter than its fixed fields (" +
                                                      std::to_string(fixed) + ")");
        }
        if (length - fixed > k_rpc_body_bytes_max) {
            return refuse(errc::too_large, "frame of " + std::to_string(length - fixed) +
                                               " bytes, the limit is " +
                                               std::to_string(k_rpc_body_bytes_max));
        }
        frame_.request_id = get_le(header_.data() + 4, 8);
        frame_.code = kind_ == kind::reply ? static_cast<uint16_t>(get_le(header_.data() + 12, 2))
                                           : uint16_t{0};
        body_want_ = length - fixed;
        body_have_ = 0;
        in_body_ = true;
        frame_.body.clear();
        if (body_want_ == 0) return state_ = state::complete;
        return state_;
    }
    ES_ASSERT(n <= frame_.body.size() - body_have_);
    body_have_ += n;
    if (body_have_ == body_want_) return state_ = state::complete;
    return state_;
}

rpc_frame rpc_frame_reader::take() {
    ES_ASSERT(state_ == state::complete);
    rpc_frame out = std::move(frame_);
    frame_ = rpc_frame{};
    header_have_ = 0;
    in_body_ = false;
    body_want_ = 0;
    body_have_ = 0;
    state_ = state::need_more;
    return out;
}

}  // namespace es::replication
