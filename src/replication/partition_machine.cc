// Partition commands and their application into the store.
#include "replication/partition_machine.h"

#include <algorithm>
#include <cstring>

#include "core/record_format.h"
#include "storage/log_store.h"

namespace es::replication {
partition_machine::partition_machine(storage::log_store& store, uint64_t topic_id,
                                     uint32_t partition, catch_up_fn catch_up,
                                     snapshot_sizing sizing)
    : store_(store),
      topic_id_(topic_id),
      partition_(partition),
      catch_up_(std::move(catch_up)),
      sizing_(std::move(sizing)),
      threshold_(sizing_.threshold_max) {}

void partition_machine::resize_snapshots(size_t command_bytes) {
    constexpr uint32_t threshold_min = 16;
    constexpr uint64_t window = 64;
    if (!sizing_.set) return;
    recent_bytes_ += command_bytes;
    if (++recent_entries_ < window) return;
    const uint64_t average = std::max<uint64_t>(1, recent_bytes_ / recent_entries_);
    // Halved rather than cleared: an average that forgets slowly.
    recent_bytes_ /= 2;
    recent_entries_ /= 2;
    const auto wanted = static_cast<uint32_t>(std::clamp<uint64_t>(
        sizing_.log_bytes / average, std::min(threshold_min, sizing_.threshold_max),
        sizing_.threshold_max));
    // Only a change by 2x or more: each one is a call to the loop.
    if (wanted * 2 > threshold_ && wanted < threshold_ * 2) return;
    threshold_ = wanted;
    const auto trailing = static_cast<uint32_t>(
        std::max<uint64_t>(8, uint64_t{sizing_.trailing_max} * wanted / sizing_.threshold_max));
    sizing_.set(wanted, trailing);
}

status partition_machine::apply(uint64_t /*index*/, std::span<const std::byte> command) {
    resize_snapshots(command.size());
    auto c = decode_partition_command(command);
    if (!c) return std::move(c).err();
    if (c->type == partition_command::kind::commit_offset) {
        // The Raft log is the durable copy; the store is flushed before any snapshot.
        return store_.commit_offset(topic_id_, c->group, partition_, c->offset, false);
    }
    ES_TRY(check_not_taken(*c));
    const storage::append_batch batch{
        topic_id_, partition_, c->base_offset,
        core::record_run{c->records.data(), c->records.size(), c->count}};
    ES_TRY(store_.append(std::span(&batch, 1), false));
    if (!c->producers.empty()) {
        std::lock_guard lock(mutex_);
        for (const core::producer_append& a : c->producers) {
            // The log orders producers by use: its offsets stand in for time.
            producers_.appended(a.producer_id, a.first_sequence, a.count, a.base_offset,
                                a.base_offset);
        }
    }
    return {};
}

status partition_machine::check_not_taken(const partition_command& c) const {
    auto b = store_.bounds(topic_id_, partition_);
    if (!b) return std::move(b).err();
    if (c.base_offset + c.count > b->end_offset || c.base_offset < b->start_offset) {
        // New (the store refuses a hole or a partial overlap itself), or gone by retention.
        return {};
    }
    // The offsets are already held. The same entry applied again (the Raft log replayed after
    // a restart) holds the same bytes and is skipped; a different batch at those offsets must
    // fail, or its proposer would be acknowledged for events that were never stored.
    std::vector<std::byte> held;
    auto r = store_.read(topic_id_, partition_, c.base_offset, c.count, c.records.size(), held);
    if (!r) return std::move(r).err();
    if (r->count == c.count && held.size() == c.records.size() &&
        std::equal(held.begin(), held.end(), c.records.begin())) {
        return {};
    }
    return make_error(errc::invalid_argument, "offsets " + std::to_string(c.base_offset) + ".." +
                                                  std::to_string(c.base_offset + c.count - 1) +
                                                  " already hold other events");
}

core::producer_table partition_machine::producers() const {
    std::lock_guard lock(mutex_);
    return producers_;
}

result<std::vector<std::byte>> partition_machine::snapshot() {
    // What the snapshot covers reaches the disk in make_durable(), which libraft's storage
    // (raft_log_io) calls before it stores the snapshot.
    auto b = store_.bounds(topic_id_, partition_);
    if (!b) return std::move(b).err();
    auto offsets = store_.committed_offsets(topic_id_, partition_);
    if (!offsets) return std::move(offsets).err();
    partition_snapshot s;
    s.topic_id = topic_id_;
    s.partition = partition_;
    s.end_offset = b->end_offset;
    s.group_offsets = std::move(*offsets);
    {
        std::lock_guard lock(mutex_);
        s.producers = producers_;
    }
    return encode_partition_snapshot(s);
}

status partition_machine::make_durable() {
    return store_.flush(topic_id_);
}

status partition_machine::restore(std::span<const std::byte> snapshot) {
    auto s = decode_partition_snapshot(snapshot);
    if (!s) return std::move(s).err();
    if (s->topic_id != topic_id_ || s->partition != partition_) {
        return make_error(errc::invalid_argument, "partition snapshot of another partition");
    }
    {
        std::lock_guard lock(mutex_);
        producers_ = std::move(s->producers);
    }
    auto b = store_.bounds(topic_id_, partition_);
    if (!b) return std::move(b).err();
    if (b->end_offset < s->end_offset) {
        // The snapshot covers events this replica never got: fetch them before libraft goes
        // on, so that this replica never claims what it does not hold.
        if (!catch_up_) {
            return make_error(errc::unavailable,
                              "partition snapshot ends at offset " + std::to_string(s->end_offset) +
                                  " but this replica holds only "
                                  "up to " +
                                  std::to_string(b->end_offset) + " and cannot fetch the rest");
        }
        ES_TRY(catch_up_(topic_id_, partition_, b->end_offset, s->end_offset));
    }
    // What the snapshot covers skips the store's WAL in a cluster (fetched just now, or
    // applied earlier and still in memtables), and the Raft log that held it is gone after an
    // install: to disk before libraft counts it as this replica's. Installs are rare.
    ES_TRY(store_.flush(topic_id_));
    // The groups' offsets as of the snapshot: the commits before it are not in the log this
    // replica will apply. (Not synced: lost at a crash, they are restored from the snapshot
    // again, which libraft loads at every start.)
    for (const auto& [group, offset] : s->group_offsets) {
        ES_TRY(store_.commit_offset(topic_id_, group, partition_, offset, false));
    }
    return {};
}

}  // namespace es::replication
