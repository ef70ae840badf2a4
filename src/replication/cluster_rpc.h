// The requests nodes send each other over the cluster port (raft_host::call), beside Raft:
//   - forward_controller: a controller command from a node that is not the controller, to be
//     proposed by the controller's leader (topic admin on any node, node registration, partition
//     leader reports);
//   - fetch: events of a partition from an offset, for a replica that installs a snapshot and
//     must first get the events it lacks.
// Decoding checks everything: the bytes come from the network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace es::replication {

enum class rpc_kind : uint8_t { forward_controller = 1, fetch = 2 };

struct fetch_request {
    uint64_t topic_id = 0;
    uint32_t partition = 0;
    uint64_t from = 0;
    // At most this many events (so that a catch-up stops exactly where the snapshot ends and
    // the Raft log takes over) and about this many bytes (at least one event).
    uint32_t max_events = 0;
    uint32_t max_bytes = 0;
};

struct rpc_request {
    rpc_kind kind = rpc_kind::forward_controller;
    std::span<const std::byte> command;  // forward_controller: the encoded controller command
    fetch_request fetch;                 // fetch
};

// What a fetch returns: the source's bounds when it read, and whole records from `from` on
// (none when it holds nothing at `from`).
struct fetch_reply {
    uint64_t start_offset = 0;
    uint64_t end_offset = 0;
    uint32_t count = 0;
    std::span<const std::byte> records;
};

// Largest fetch reply asked for (bytes of records).
inline constexpr uint32_t fetch_bytes_max = 16 << 20;

std::vector<std::byte> encode_forward(std::span<const std::byte> command);
std::vector<std::byte> encode_fetch(const fetch_request& f);
result<rpc_request> decode_rpc_request(std::span<const std::byte> bytes);

std::vector<std::byte> encode_fetch_reply(uint64_t start_offset, uint64_t end_offset,
                                          uint32_t count, std::span<const std::byte> records);
// Checks every record (sizes, offsets from `from` on, timestamps). Error: invalid_argument.
result<fetch_reply> decode_fetch_reply(std::span<const std::byte> bytes, uint64_t from);

}  // namespace es::replication
