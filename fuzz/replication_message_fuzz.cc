// Fuzz target: what nodes of a cluster send each other beside Raft's own messages, and what a
// replicated partition's Raft log holds (outside input: a peer or a damaged log can put
// anything there). The first byte picks the decoder:
//   0: a node-to-node request (decode_rpc_request)
//   1: a fetch reply (decode_fetch_reply), the next 8 bytes the offset asked from
//   2: a partition command (decode_partition_command)
//   3: a producer table from a partition snapshot (producer_table::decode)
//   4: a whole partition snapshot (decode_partition_snapshot; what decodes, encoded again,
//      decodes to the same snapshot: the producer table's bytes need not come back the same)
// Whatever decodes in cases 0-2 must encode back to the same bytes, and a batch's records must
// lie inside the input (each input is copied to an exact-size heap block, so ASan sees a read
// past it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "core/producer_state.h"
#include "core/record_format.h"
#include "core/topic.h"
#include "fuzz_util.h"
#include "replication/cluster_rpc.h"
#include "replication/partition_command.h"

namespace {

bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

void rpc_request(std::span<const std::byte> in) {
    auto r = es::replication::decode_rpc_request(in);
    if (!r) return;
    const auto again = r->kind == es::replication::rpc_kind::fetch
                           ? es::replication::encode_fetch(r->fetch)
                           : es::replication::encode_forward(r->command);
    FUZZ_CHECK(same(again, in));
}

void fetch_reply(std::span<const std::byte> in) {
    if (in.size() < 8) return;
    const auto from = es::core::load_le<uint64_t>(in.data());
    const auto body = in.subspan(8);
    auto r = es::replication::decode_fetch_reply(body, from);
    if (!r) return;
    FUZZ_CHECK(r->start_offset <= r->end_offset);
    FUZZ_CHECK(same(
        es::replication::encode_fetch_reply(r->start_offset, r->end_offset, r->count, r->records),
        body));
}

void partition_command(std::span<const std::byte> in) {
    auto c = es::replication::decode_partition_command(in);
    if (!c) return;
    std::vector<std::byte> again;
    if (c->type == es::replication::partition_command::kind::batch) {
        FUZZ_CHECK(c->count > 0);
        FUZZ_CHECK(c->records.data() >= in.data() &&
                   c->records.data() + c->records.size() <= in.data() + in.size());
        for (const auto& p : c->producers) {
            FUZZ_CHECK(p.base_offset >= c->base_offset &&
                       p.base_offset - c->base_offset + p.count <= c->count);
        }
        again = es::replication::encode_batch_command(c->base_offset, c->count, c->records,
                                                      c->producers);
    } else {
        again = es::replication::encode_commit_command(c->group, c->offset);
    }
    FUZZ_CHECK(same(again, in));
}

void producer_table(std::span<const std::byte> in) {
    std::span<const std::byte> rest = in;
    es::core::producer_table t;
    if (!es::core::producer_table::decode(rest, t)) return;
    FUZZ_CHECK(t.size() <= es::core::max_producers_per_partition);
    std::vector<std::byte> again;
    t.encode(again);
    std::span<const std::byte> back = again;
    es::core::producer_table u;
    FUZZ_CHECK(es::core::producer_table::decode(back, u) && back.empty() && u == t);
}

void partition_snapshot(std::span<const std::byte> in) {
    auto s = es::replication::decode_partition_snapshot(in);
    if (!s) {
        FUZZ_CHECK(s.err().code == es::errc::invalid_argument);
        return;
    }
    for (const auto& [group, offset] : s->group_offsets) {
        FUZZ_CHECK(es::core::validate_group_name(group).has_value());
    }
    const std::vector<std::byte> again = es::replication::encode_partition_snapshot(*s);
    auto back = es::replication::decode_partition_snapshot(again);
    FUZZ_CHECK(back.has_value() && back->end_offset == s->end_offset &&
               back->producers == s->producers && back->group_offsets == s->group_offsets);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    auto owned = std::make_unique<std::byte[]>(size - 1 + 1);
    std::memcpy(owned.get(), data + 1, size - 1);
    const std::span<const std::byte> in(owned.get(), size - 1);
    switch (data[0] % 5) {
        case 0:
            rpc_request(in);
            break;
        case 1:
            fetch_reply(in);
            break;
        case 2:
            partition_command(in);
            break;
        case 3:
            producer_table(in);
            break;
        default:
            partition_snapshot(in);
            break;
    }
    return 0;
}
