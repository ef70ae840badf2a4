// Encoding and incremental decoding of the Raft connection preamble (layout in raft_preamble.h).
#include "replication/raft_preamble.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "common/assert.h"

namespace es::replication {
namespace {

void put_u64(std::byte* out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[i] = std::byte(v >> (8 * i));
}

uint64_t get_u64(const std::byte* in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(in[i]) << (8 * i);
    return v;
}

}  // namespace

uint64_t cluster_id_of(std::vector<std::pair<uint64_t, std::string>> members) {
    std::sort(members.begin(), members.end());
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](std::string_view s) {
        for (char c : s) {
            h ^= uint8_t(c);
            h *= 0x100000001b3ull;
        }
    };
    for (const auto& [id, address] : members) {
        mix(std::to_string(id));
        mix("@");
        mix(address);
        mix(";");
    }
    return h;
}

std::vector<std::byte> encode_preamble(const preamble& p) {
    ES_ASSERT(!p.address.empty() && p.address.size() <= k_preamble_address_bytes_max);
    std::vector<std::byte> out(k_preamble_fixed_bytes + p.address.size());
    std::memcpy(out.data(), k_preamble_magic, 8);
    put_u64(out.data() + 8, p.cluster_id);
    put_u64(out.data() + 16, p.group_id);
    put_u64(out.data() + 24, p.node_id);
    out[32] = std::byte(p.address.size() & 0xff);
    out[33] = std::byte(p.address.size() >> 8);
    std::memcpy(out.data() + k_preamble_fixed_bytes, p.address.data(), p.address.size());
    return out;
}

std::span<std::byte> preamble_reader::next_buffer() noexcept {
    if (state_ != state::need_more) return {};
    return std::span<std::byte>(buffer_.data() + have_, want_ - have_);
}

preamble_reader::state preamble_reader::advance(size_t n) {
    ES_ASSERT(state_ == state::need_more && n <= want_ - have_);
    have_ += n;
    if (have_ < want_) return state_;
    if (want_ == k_preamble_fixed_bytes) {
        if (std::memcmp(buffer_.data(), k_preamble_magic, 8) != 0) {
            error_ = "bad magic (not an eventstream raft connection)";
            return state_ = state::malformed;
        }
        const size_t address_bytes = size_t(buffer_[32]) | size_t(buffer_[33]) << 8;
        if (address_bytes == 0 || address_bytes > k_preamble_address_bytes_max) {
            error_ = "address length " + std::to_string(address_bytes) + " is not 1.." +
                     std::to_string(k_preamble_address_bytes_max);
            return state_ = state::malformed;
        }
        value_.cluster_id = get_u64(buffer_.data() + 8);
        value_.group_id = get_u64(buffer_.data() + 16);
        value_.node_id = get_u64(buffer_.data() + 24);
        if (value_.node_id == 0) {
            error_ = "node id 0";
            return state_ = state::malformed;
        }
        want_ += address_bytes;
        return state_;
    }
    value_.address.assign(reinterpret_cast<const char*>(buffer_.data()) + k_preamble_fixed_bytes,
                          want_ - k_preamble_fixed_bytes);
    return state_ = state::complete;
}

}  // namespace es::replication
