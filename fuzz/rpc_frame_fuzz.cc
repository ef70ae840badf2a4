// Fuzz target: node-to-node request and reply frames (rpc_frame.h), read from a byte stream by
// rpc_frame_reader as the answering and the calling side do. The input's first byte picks the
// kind; the rest is fed whole and then in split chunks (fuzz_util.h): both must give the same
// frames and end the same way. Every frame encodes back to the bytes it was read from.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "replication/rpc_frame.h"

namespace {

using namespace es::replication;

struct outcome {
    std::vector<rpc_frame> frames;
    rpc_frame_reader::state state = rpc_frame_reader::state::need_more;
    size_t consumed = 0;
    es::errc code = es::errc::ok;
};

outcome feed(rpc_frame_reader::kind kind, const std::vector<std::string_view>& pieces) {
    rpc_frame_reader reader(kind);
    outcome out;
    for (std::string_view piece : pieces) {
        while (!piece.empty() && reader.current() == rpc_frame_reader::state::need_more) {
            std::span<std::byte> want = reader.next_buffer();
            FUZZ_CHECK(!want.empty() && want.size() <= rpc_frame_reader::k_read_step_bytes);
            const size_t n = std::min(want.size(), piece.size());
            std::memcpy(want.data(), piece.data(), n);
            piece.remove_prefix(n);
            out.consumed += n;
            if (reader.advance(n) == rpc_frame_reader::state::complete) {
                rpc_frame frame = reader.take();
                FUZZ_CHECK(frame.body.size() <= k_rpc_body_bytes_max);
                out.frames.push_back(std::move(frame));
            }
        }
    }
    out.state = reader.current();
    if (out.state == rpc_frame_reader::state::malformed) {
        out.code = reader.error_code();
        FUZZ_CHECK(out.code == es::errc::too_large || out.code == es::errc::invalid_argument);
        FUZZ_CHECK(!reader.error().empty() && reader.next_buffer().empty());
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const auto kind =
        (data[0] & 1) != 0 ? rpc_frame_reader::kind::reply : rpc_frame_reader::kind::request;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const outcome whole = feed(kind, {input});
    const outcome split = feed(kind, es::fuzz::split_chunks(input));
    FUZZ_CHECK(whole.state == split.state && whole.code == split.code);
    FUZZ_CHECK(whole.consumed == split.consumed);
    FUZZ_CHECK(whole.frames.size() == split.frames.size());
    size_t at = 0;
    for (size_t i = 0; i < whole.frames.size(); ++i) {
        const rpc_frame& a = whole.frames[i];
        const rpc_frame& b = split.frames[i];
        FUZZ_CHECK(a.request_id == b.request_id && a.code == b.code && a.body == b.body);
        std::vector<std::byte> again;
        if (kind == rpc_frame_reader::kind::reply) {
            auto h = encode_rpc_reply_header(a.request_id, a.code, a.body.size());
            again.assign(h.begin(), h.end());
        } else {
            FUZZ_CHECK(a.code == 0);
            auto h = encode_rpc_request_header(a.request_id, a.body.size());
            again.assign(h.begin(), h.end());
        }
        again.insert(again.end(), a.body.begin(), a.body.end());
        FUZZ_CHECK(at + again.size() <= input.size());
        FUZZ_CHECK(std::memcmp(again.data(), input.data() + at, again.size()) == 0);
        at += again.size();
    }
    return 0;
}
