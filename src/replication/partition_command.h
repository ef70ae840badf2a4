// The commands of a replicated partition's Raft log: the batches the leader's worker cut (with
// the offsets the leader assigned and the idempotent producers' batches among them) and
// consumer-group commits. Decoding checks every record before anything is trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/durable_backend.h"
#include "core/producer_state.h"

namespace es::replication {

struct partition_command {
    enum class kind : uint8_t { batch = 1, commit_offset = 2 };
    kind type = kind::batch;
    // batch: records back to back (core/record_format.h) with offsets base_offset, ... and
    // timestamps set. Points into the decoded bytes.
    uint64_t base_offset = 0;
    uint32_t count = 0;
    std::span<const std::byte> records;
    // The idempotent producers' batches among the records.
    std::vector<core::producer_append> producers;
    // commit_offset
    std::string group;
    uint64_t offset = 0;
};

std::vector<std::byte> encode_batch_command(uint64_t base_offset, uint32_t count,
                                            std::span<const std::byte> records,
                                            std::span<const core::producer_append> producers);
std::vector<std::byte> encode_commit_command(std::string_view group, uint64_t offset);
// Checks every record (sizes, offsets, timestamps) before anything is trusted. Error:
// invalid_argument naming what is wrong.
result<partition_command> decode_partition_command(std::span<const std::byte> bytes);

// A replicated partition's snapshot: no events, only what a replica needs besides them (the
// events it lacks it fetches from another replica first).
struct partition_snapshot {
    uint64_t topic_id = 0;
    uint32_t partition = 0;
    uint64_t end_offset = 0;         // the store held every event before this
    core::producer_table producers;  // idempotent producers
    // Every consumer group's committed offset: the commits went through the log, and a
    // replica that installs the snapshot never sees the entries before it.
    std::vector<std::pair<std::string, uint64_t>> group_offsets;
};
std::vector<std::byte> encode_partition_snapshot(const partition_snapshot& s);
// Reads this version's snapshots and version 1's (written before group offsets were in them).
// Error: invalid_argument naming what is wrong.
result<partition_snapshot> decode_partition_snapshot(std::span<const std::byte> bytes);

}  // namespace es::replication
