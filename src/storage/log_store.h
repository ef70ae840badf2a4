// The partition store on RocksDB: every durable partition's log, the consumer-group offsets
// that refer to it, and the metadata of durable topics, in one RocksDB database per node. It
// is synchronous and thread-safe; store_service (store_service.h) runs it on the writer and
// reader threads so that no worker ever waits on the disk. Layout in store_format.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/batch.h"
#include "core/event_record.h"
#include "core/topic.h"

namespace es::storage {

struct store_options {
    // Directory of the RocksDB database (the node uses <data-dir>/store).
    std::string path;
    // Create the database when the directory does not exist (or is empty). An existing
    // directory that is not an eventstream store is always refused.
    bool create_if_missing = true;
    // RocksDB block cache, shared by every partition, in bytes.
    size_t block_cache_bytes = 64ull << 20;
    // RocksDB memtable size per column family, in bytes.
    size_t write_buffer_bytes = 16ull << 20;
    // Memtables of all column families together, in bytes (RocksDB flushes past it).
    size_t memtable_total_bytes = 256ull << 20;
    // Values of at least this many bytes (event batches) go to blob files (bytes).
    size_t blob_min_bytes = 256;
    // Size of one blob file; retention frees space a blob file at a time (bytes).
    size_t blob_file_bytes = 64ull << 20;
    // Whether the topics' writes (events, retention, group offsets) go through RocksDB's WAL.
    // Off in a cluster, where a partition's Raft log is the durable copy and libraft replays
    // it after a restart (appends are idempotent by offset): such writes are lost at a crash
    // until flush(), and what survives of a topic is always a prefix of its writes, since
    // none of them is logged. The topics' metadata always goes through the WAL, synced.
    bool topic_wal = true;
    // Memtable flushes and compactions write their files with O_DIRECT, past the page cache,
    // when the directory's file system takes it (checked at open; tmpfs before Linux 6.6 does
    // not). Readers still read through the cache, but recent events come from the
    // partitions' rings. The node turns it on in a cluster: there the page cache's copying
    // and write-back took half the CPU of a 3-node cluster on this project's 2-CPU VM at
    // 1 KiB events, and replicated throughput rose 1.3-2x without it; a single node's
    // throughput fell 5-9 % with it, its flushes then waiting for the disk
    // (bench/RESULTS.md, 2026-11-29 evening).
    bool direct_flush = false;
};

// A durable topic as persisted: its configuration and the id its column family is named by.
struct stored_topic {
    core::topic_config config;
    uint64_t id = 0;
};

// Where a partition's log starts and ends on disk.
struct partition_bounds {
    uint64_t start_offset = 0;  // oldest offset still stored (== end_offset when empty)
    uint64_t end_offset = 0;    // next offset to be appended
    uint64_t stored_bytes = 0;  // bytes of records stored
};

// One batch to append: records back to back (core/record_format.h) whose offset fields run
// base_offset, base_offset + 1, ... and whose timestamps are set (non-zero).
struct append_batch {
    uint64_t topic_id = 0;
    uint32_t partition = 0;
    uint64_t base_offset = 0;
    core::record_run records;
};

// What read() found.
struct read_result {
    // The partition's first stored offset at the time of the read; when the requested offset
    // is below it, the records start here (the caller reports the gap).
    uint64_t start_offset = 0;
    uint64_t end_offset = 0;
    // Records with offsets from max(from, start_offset) on, back to back, in `buffer`.
    uint32_t count = 0;
    size_t bytes = 0;
};

class log_store {
  public:
    // Opens or creates the store. Errors (io_error or config_error, with the path and what is
    // wrong): the directory holds something that is not an eventstream store, a store of a
    // newer format, or a corrupt database; not_found when there is no store and
    // create_if_missing is off. Never resets or repairs data silently. Any thread; the store
    // must not be open twice (RocksDB's lock file refuses a second open with io_error).
    static result<std::unique_ptr<log_store>> open(const store_options& options);
    ~log_store();
    log_store(const log_store&) = delete;
    log_store& operator=(const log_store&) = delete;

    // --- topics (control plane) ---
    // Persists a durable topic and creates its column family (synced). Errors: already_exists
    // (same id), invalid_argument (id 0, or a configuration core::validate_topic_config
    // refuses).
    status put_topic(const stored_topic& t);
    // Drops the topic's column family (its events and group offsets) and its metadata.
    // Error: not_found.
    status drop_topic(uint64_t topic_id);
    // Every persisted topic, by id.
    result<std::vector<stored_topic>> topics() const;
    // One more than the highest topic id ever persisted (ids are never reused).
    uint64_t next_topic_id() const;

    // --- the log ---
    // Appends the batches in one atomic RocksDB write, with the WAL synced when `sync`.
    // Idempotent by offset: a batch that ends at or below the partition's end is skipped (a
    // state machine may apply the same batch twice). Errors: invalid_argument when a batch
    // would leave a hole (base_offset > end) or overlaps the end only in part; not_found for
    // an unknown topic or partition; too_large for a batch over 1 GiB; io_error from RocksDB.
    // On error nothing is written. REQUIRES (asserted): the records are well formed, with
    // offsets base_offset, base_offset + 1, ... and timestamps set.
    status append(std::span<const append_batch> batches, bool sync);
    // Whether flushes and compactions write with O_DIRECT (store_options::direct_flush, and
    // the file system takes it).
    bool direct_flush() const noexcept;
    // Syncs the WAL to disk (for the interval fsync policy).
    status sync();
    // Writes the topic's memtables to disk and waits until they are there: with topic_wal
    // off, its writes so far then survive a crash. Errors: not_found, io_error. Any thread;
    // blocks for the flush (up to hundreds of milliseconds).
    status flush(uint64_t topic_id);

    // REQUIRES for the calls below: the topic exists and partition < its partition count
    // (else not_found).
    result<partition_bounds> bounds(uint64_t topic_id, uint32_t partition) const;
    // Copies records from offset `from` on into `buffer` (replacing its contents): whole
    // events, at most max_events and at most max_bytes, but at least one when any is stored
    // (none when max_events is 0). Error: io_error, "corrupt batch at <topic>/<partition>@..."
    // when what is on disk is damaged.
    result<read_result> read(uint64_t topic_id, uint32_t partition, uint64_t from,
                             uint32_t max_events, size_t max_bytes,
                             std::vector<std::byte>& buffer) const;
    // The event at `offset`; nullopt when it is not stored (past the end, or deleted by
    // retention).
    result<std::optional<core::event_record>> lookup(uint64_t topic_id, uint32_t partition,
                                                     uint64_t offset) const;
    // The first offset whose timestamp is >= ts_ns; end_offset when none is.
    result<uint64_t> offset_for_timestamp(uint64_t topic_id, uint32_t partition,
                                          int64_t ts_ns) const;

    // Retention: deletes whole batches from the start of the log while the partition holds
    // more than retention_bytes, and those whose newest event is older than
    // older_than_ns (0: no age limit), by range deletes. Byte retention never deletes the
    // newest batch; age retention may empty the partition, which then keeps its end offset.
    // Never deletes past the end; the start offset it leaves is persisted. Returns the new
    // bounds.
    result<partition_bounds> apply_retention(uint64_t topic_id, uint32_t partition,
                                             uint64_t retention_bytes, int64_t older_than_ns);

    // Moves a partition that lacks offsets [end, offset) for good (a replica catching up
    // from one whose retention deleted them) to start and end at `offset`: every batch it
    // holds goes, as a Kafka follower truncates to its leader's log start. Not synced (a
    // cluster flushes after a catch-up). Errors: invalid_argument when offset < end (the
    // partition holds or passed it), not_found, io_error. No-op when offset == end and the
    // partition is empty.
    status skip_to(uint64_t topic_id, uint32_t partition, uint64_t offset);

    // --- consumer-group offsets ---
    // Stores `offset` (the next offset the group will read) for (group, partition).
    status commit_offset(uint64_t topic_id, std::string_view group, uint32_t partition,
                         uint64_t offset, bool sync);
    // The committed offset, or nullopt when the group never committed for the partition.
    result<std::optional<uint64_t>> committed_offset(uint64_t topic_id, std::string_view group,
                                                     uint32_t partition) const;
    // Every group's committed offset for the partition, by group name.
    result<std::vector<std::pair<std::string, uint64_t>>> committed_offsets(
        uint64_t topic_id, uint32_t partition) const;

  private:
    struct impl;
    explicit log_store(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace es::storage
