// The frames of node-to-node requests (raft_host::call), shared by the calling side
// (rpc_client.cc) and the answering side (rpc_server.cc). They follow an rpc preamble
// (raft_preamble.h, group id k_rpc_group_id) and its ack on a cluster-port connection.
//
// Layout, integers little endian. `length` counts every byte after itself.
//   request:  [4] length = 8 + N   [8] request id   [N] request bytes
//   reply:    [4] length = 10 + N  [8] request id   [2] code   [N] bytes
// A reply's code is 0 for success (the bytes are the handler's answer) or an es::errc value
// (the bytes are the error message). N is at most k_rpc_body_bytes_max (64 MiB); a frame that
// says more, or whose length cannot hold its fixed fields, is malformed and the connection is
// closed. The caller picks request ids; a reply carries its request's id. Both sides may have
// several requests in flight on one connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/errc.h"

namespace es::replication {

inline constexpr size_t k_rpc_body_bytes_max = 64u << 20;
inline constexpr size_t k_rpc_request_header_bytes = 4 + 8;
inline constexpr size_t k_rpc_reply_header_bytes = 4 + 8 + 2;

// REQUIRES: body_bytes <= k_rpc_body_bytes_max. The body is sent after the header.
std::array<std::byte, k_rpc_request_header_bytes> encode_rpc_request_header(uint64_t request_id,
                                                                            size_t body_bytes);
// REQUIRES: body_bytes <= k_rpc_body_bytes_max.
std::array<std::byte, k_rpc_reply_header_bytes> encode_rpc_reply_header(uint64_t request_id,
                                                                        uint16_t code,
                                                                        size_t body_bytes);

// The errc a reply's code names: its value when it is one of ours, otherwise io_error (a newer
// node may send codes this one does not know).
errc rpc_code_to_errc(uint16_t code) noexcept;

struct rpc_frame {
    uint64_t request_id = 0;
    uint16_t code = 0;  // replies only
    std::vector<std::byte> body;
};

// Reads request or reply frames from a byte stream, in as many pieces as the socket delivers,
// never asking for a byte past the frame it is reading. The body's buffer grows as its bytes
// arrive (at most k_rpc_read_step_bytes at a time), so a length alone reserves no memory.
class rpc_frame_reader {
  public:
    enum class kind { request, reply };
    enum class state { need_more, complete, malformed };
    static constexpr size_t k_read_step_bytes = 1u << 20;

    explicit rpc_frame_reader(kind k) noexcept : kind_(k) {}

    // Where the next bytes go (empty unless current() == need_more).
    std::span<std::byte> next_buffer();
    // Records that `n` bytes were written at the start of next_buffer().
    // REQUIRES: n <= next_buffer().size().
    state advance(size_t n);
    state current() const noexcept { return state_; }
    // Moves the complete frame out and starts on the next one. REQUIRES: current() == complete.
    rpc_frame take();
    // Why the frame was refused (current() == malformed): too_large when its length is over
    // the limit, invalid_argument otherwise; and a message saying what was wrong.
    errc error_code() const noexcept { return error_code_; }
    const std::string& error() const noexcept { return error_; }

  private:
    size_t header_bytes() const noexcept {
        return kind_ == kind::request ? k_rpc_request_header_bytes : k_rpc_reply_header_bytes;
    }
    state refuse(errc code, std::string why);

    const kind kind_;
    state state_ = state::need_more;
    std::array<std::byte, k_rpc_reply_header_bytes> header_{};
    size_t header_have_ = 0;
    bool in_body_ = false;
    size_t body_want_ = 0;  // the body's full size, known once the header is in
    size_t body_have_ = 0;
    rpc_frame frame_;
    errc error_code_ = errc::ok;
    std::string error_;
};

}  // namespace es::replication
