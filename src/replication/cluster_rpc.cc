// Encoding of the node-to-node requests.
#include "replication/cluster_rpc.h"

#include <string>

#include "core/record_format.h"
#include "storage/record_check.h"

namespace es::replication {
namespace {

// request: [u8 kind] then
//   forward_controller: [command]
//   fetch: [u64 topic id][u32 partition][u64 from][u32 max events][u32 max bytes]
// fetch reply: [u64 start offset][u64 end offset][u32 count][records]
constexpr size_t fetch_request_bytes = 1 + 8 + 4 + 8 + 4 + 4;
constexpr size_t fetch_reply_head_bytes = 8 + 8 + 4;

error bad(const std::string& what) {
    return error{errc::invalid_argument, "cluster request: " + what};
}

}  // namespace

std::vector<std::byte> encode_forward(std::span<const std::byte> command) {
    std::vector<std::byte> out;
    out.reserve(1 + command.size());
    core::append_le<uint8_t>(out, static_cast<uint8_t>(rpc_kind::forward_controller));
    out.insert(out.end(), command.begin(), command.end());
    return out;
}

std::vector<std::byte> encode_fetch(const fetch_request& f) {
    std::vector<std::byte> out;
    out.reserve(fetch_request_bytes);
    core::append_le<uint8_t>(out, static_cast<uint8_t>(rpc_kind::fetch));
    core::append_le<uint64_t>(out, f.topic_id);
    core::append_le<uint32_t>(out, f.partition);
    core::append_le<uint64_t>(out, f.from);
    core::append_le<uint32_t>(out, f.max_events);
    core::append_le<uint32_t>(out, f.max_bytes);
    return out;
}

result<rpc_request> decode_rpc_request(std::span<const std::byte> bytes) {
    if (bytes.empty()) return bad("empty");
    rpc_request r;
    const auto kind = core::load_le<uint8_t>(bytes.data());
    if (kind == static_cast<uint8_t>(rpc_kind::forward_controller)) {
        r.kind = rpc_kind::forward_controller;
        r.command = bytes.subspan(1);
        if (r.command.empty()) return bad("forward without a command");
        return r;
    }
    if (kind == static_cast<uint8_t>(rpc_kind::fetch)) {
        if (bytes.size() != fetch_request_bytes) return bad("fetch of the wrong size");
        r.kind = rpc_kind::fetch;
        r.fetch.topic_id = core::load_le<uint64_t>(bytes.data() + 1);
        r.fetch.partition = core::load_le<uint32_t>(bytes.data() + 9);
        r.fetch.from = core::load_le<uint64_t>(bytes.data() + 13);
        r.fetch.max_events = core::load_le<uint32_t>(bytes.data() + 21);
        r.fetch.max_bytes = core::load_le<uint32_t>(bytes.data() + 25);
        if (r.fetch.max_events == 0) return bad("fetch of 0 events");
        if (r.fetch.max_bytes == 0 || r.fetch.max_bytes > fetch_bytes_max) {
            return bad("fetch max_bytes must be 1.." + std::to_string(fetch_bytes_max));
        }
        return r;
    }
    return bad("unknown kind " + std::to_string(kind));
}

std::vector<std::byte> encode_fetch_reply(uint64_t start_offset, uint64_t end_offset,
                                          uint32_t count, std::span<const std::byte> records) {
    std::vector<std::byte> out;
    out.reserve(fetch_reply_head_bytes + records.size());
    core::append_le<uint64_t>(out, start_offset);
    core::append_le<uint64_t>(out, end_offset);
    core::append_le<uint32_t>(out, count);
    out.insert(out.end(), records.begin(), records.end());
    return out;
}

result<fetch_reply> decode_fetch_reply(std::span<const std::byte> bytes, uint64_t from) {
    if (bytes.size() < fetch_reply_head_bytes) return bad("fetch reply too short");
    fetch_reply r;
    r.start_offset = core::load_le<uint64_t>(bytes.data());
    r.end_offset = core::load_le<uint64_t>(bytes.data() + 8);
    r.count = core::load_le<uint32_t>(bytes.data() + 16);
    r.records = bytes.subspan(fetch_reply_head_bytes);
    if (r.start_offset > r.end_offset) return bad("fetch reply bounds out of order");
    std::span<const std::byte> rest = r.records;
    for (uint32_t i = 0; i < r.count; ++i) {
        const size_t size = storage::checked_record_size(rest, from + i);
        if (size == 0) return bad("fetch reply record " + std::to_string(i) + " is malformed");
        rest = rest.subspan(size);
    }
    if (!rest.empty()) return bad("fetch reply has bytes after its records");
    return r;
}

}  // namespace es::replication
