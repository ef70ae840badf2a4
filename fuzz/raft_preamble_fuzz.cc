// Fuzz target: the preamble that opens every cluster-port connection (raft_preamble.h), outside
// input from any peer that can reach the port. The input is fed to preamble_reader whole and
// then in split chunks (fuzz_util.h): both must end the same way, having consumed the same
// bytes, with the same preamble; a complete preamble encodes back to the bytes it was read from.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "replication/raft_preamble.h"

namespace {

using namespace es::replication;

struct outcome {
    preamble_reader::state state = preamble_reader::state::need_more;
    size_t consumed = 0;
    preamble value;
};

// Feeds the pieces in order, each in as many next_buffer() slices as the reader asks for.
outcome feed(const std::vector<std::string_view>& pieces) {
    preamble_reader reader;
    outcome out;
    for (std::string_view piece : pieces) {
        while (!piece.empty() && reader.current() == preamble_reader::state::need_more) {
            std::span<std::byte> want = reader.next_buffer();
            FUZZ_CHECK(!want.empty());
            const size_t n = std::min(want.size(), piece.size());
            std::memcpy(want.data(), piece.data(), n);
            piece.remove_prefix(n);
            out.consumed += n;
            reader.advance(n);
        }
    }
    out.state = reader.current();
    if (out.state != preamble_reader::state::need_more) FUZZ_CHECK(reader.next_buffer().empty());
    if (out.state == preamble_reader::state::malformed) FUZZ_CHECK(!reader.error().empty());
    if (out.state == preamble_reader::state::complete) out.value = reader.value();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const outcome whole = feed({input});
    const outcome split = feed(es::fuzz::split_chunks(input));
    FUZZ_CHECK(whole.state == split.state);
    FUZZ_CHECK(whole.consumed == split.consumed);
    if (whole.state != preamble_reader::state::complete) return 0;
    FUZZ_CHECK(whole.consumed <= k_preamble_fixed_bytes + k_preamble_address_bytes_max);
    FUZZ_CHECK(whole.value.group_id == split.value.group_id);
    FUZZ_CHECK(whole.value.node_id == split.value.node_id && whole.value.node_id != 0);
    FUZZ_CHECK(whole.value.address == split.value.address);
    const std::vector<std::byte> again = encode_preamble(whole.value);
    FUZZ_CHECK(again.size() == whole.consumed);
    FUZZ_CHECK(std::memcmp(again.data(), data, again.size()) == 0);
    return 0;
}
