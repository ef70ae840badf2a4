// The state machine of one replicated partition's Raft group. Its commands are the batches the
// leader's worker cut (with the offsets the leader assigned) and consumer-group commits; every
// replica applies them, in log order, into its own RocksDB store. Applying is idempotent by
// offset (the store skips a batch it already holds), so replaying the Raft log after a restart
// does no harm.
//
// The machine also keeps the idempotent producers' state (which sequence numbers each producer
// has had appended), so that a new leader continues it and a retry after a failover is still
// recognised.
//
// Snapshots carry no events: where the log ends, the producer state and the consumer groups'
// committed offsets (partition_snapshot). A replica that installs a snapshot whose end lies
// beyond its own store must first get the missing events (see catch_up_fn); it then takes the
// snapshot's group offsets, whose commits were in the log entries the snapshot replaced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/durable_backend.h"
#include "core/producer_state.h"
#include "replication/partition_command.h"
#include "replication/raft_host.h"

namespace es::storage {
class log_store;
}

namespace es::replication {

// Brings this replica's store up to `end_offset` (from its current end) by fetching the events
// from another replica. Called on the loop thread while a snapshot is installed.
using catch_up_fn = std::function<status(uint64_t topic_id, uint32_t partition, uint64_t from,
                                         uint64_t end_offset)>;

// When the partition's group takes snapshots. A snapshot is costly (the topic's memtables in
// the store are flushed before it is stored: up to hundreds of ms), so snapshots should be
// rare; but the
// Raft log they let libraft drop holds whole batches, so it must stay bounded in bytes. The
// machine watches the size of the commands it applies and sets the threshold so that about
// `log_bytes` of log lie between snapshots, within [16, threshold_max] entries; trailing keeps
// the ratio trailing_max / threshold_max.
struct snapshot_sizing {
    uint64_t log_bytes = 256ull << 20;
    uint32_t threshold_max = 16384;
    uint32_t trailing_max = 2048;
    // Called on the loop thread when the threshold should change; empty: it stays as opened.
    std::function<void(uint32_t threshold, uint32_t trailing)> set;
};

class partition_machine final : public state_machine {
  public:
    // REQUIRES: `store` outlives the machine and holds the topic.
    partition_machine(storage::log_store& store, uint64_t topic_id, uint32_t partition,
                      catch_up_fn catch_up = {}, snapshot_sizing sizing = {});

    status apply(uint64_t index, std::span<const std::byte> command) override;
    // The snapshot of what is applied so far. What those entries wrote reaches the disk in
    // make_durable(), before libraft stores the snapshot and drops the entries.
    result<std::vector<std::byte>> snapshot() override;
    status restore(std::span<const std::byte> snapshot) override;
    // Flushes the topic's writes in the store (they skip its WAL in a cluster).
    status make_durable() override;

    uint64_t topic_id() const noexcept { return topic_id_; }
    uint32_t partition() const noexcept { return partition_; }
    // Any thread: a copy of the producer state as of the last applied command.
    core::producer_table producers() const;

  private:
    storage::log_store& store_;
    const uint64_t topic_id_;
    const uint32_t partition_;
    const catch_up_fn catch_up_;
    const snapshot_sizing sizing_;

    // OK unless the batch's offsets already hold different events.
    status check_not_taken(const partition_command& c) const;
    // Loop thread only: recent command sizes, and the threshold last set.
    void resize_snapshots(size_t command_bytes);
    uint64_t recent_bytes_ = 0;
    uint64_t recent_entries_ = 0;
    uint32_t threshold_;

    mutable std::mutex mutex_;
    core::producer_table producers_;  // guarded by mutex_; written by the loop thread
};

}  // namespace es::replication
