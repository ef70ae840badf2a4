// A Raft group's log on disk: entries in segment files, the latest snapshot, the term and vote
// (layout in raft_log_format.h). It is what raft_log_io gives libraft in place of raft_uv's
// storage: our CRC-32C runs on the CPU's crc32 instruction, where libraft 0.15 computes its CRC
// a byte at a time, and raft_log_io writes the appends that queue up while one write runs
// together, with one fdatasync.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace es::replication {

// The term a node is in and whom it voted for in it (0: nobody).
struct raft_vote {
    uint64_t term = 0;
    uint64_t voted_for = 0;
};

// The vote as stored, with the sequence number of its write.
struct stored_raft_vote {
    raft_vote vote;
    uint64_t sequence = 0;  // 0: nothing stored yet
};

// The vote stored in `dir`: of its two files, the valid one written last. {} when there is
// none yet. Error when neither file is valid. Thread-safe.
[[nodiscard]] result<stored_raft_vote> read_raft_vote(const std::filesystem::path& dir);
// Stores `vote` as write number `sequence` (one more than the last), durably before it returns,
// overwriting the older of the two files. REQUIRES: one writer per directory at a time.
[[nodiscard]] status write_raft_vote(const std::filesystem::path& dir, raft_vote vote,
                                     uint64_t sequence);

// One member of a Raft configuration, as a snapshot stores it.
struct snapshot_server {
    uint64_t id = 0;
    uint8_t role = 0;  // libraft's RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE
    std::string address;

    bool operator==(const snapshot_server&) const = default;
};

// A snapshot as the log keeps it: libraft's metadata and the state machine's bytes.
struct raft_snapshot_record {
    uint64_t index = 0;  // last entry the snapshot covers
    uint64_t term = 0;   // that entry's term
    uint64_t configuration_index = 0;
    std::vector<snapshot_server> configuration;
    std::vector<std::byte> data;
};

// An entry to append: the log copies nothing, it writes `data` where it lies.
struct raft_log_entry {
    uint64_t term = 0;
    uint8_t type = 0;  // libraft's entry type, stored as it is
    std::span<const std::byte> data;
};

// Not thread-safe: one thread at a time (raft_log_io hands it from the loop thread to a pool
// thread and back). Every method that fails leaves the store refusing everything after, as a
// log whose file state is unknown must not be written on.
class raft_log_store {
  public:
    // Opens the log in `dir` (created if missing): the newest snapshot, and the entries after the
    // compacted part; a torn last record (a crash during a write) is cut off. Fails on a damaged
    // file elsewhere, on entries that do not follow on, and on a directory holding raft_uv's
    // files (libraft's own storage, which this log replaced) but none of ours.
    // `segment_bytes`: a segment is closed and a new one begun once it holds this much.
    [[nodiscard]] static result<std::unique_ptr<raft_log_store>> open(
        const std::filesystem::path& dir, uint64_t segment_bytes);

    // True when `dir` holds no entry or snapshot of ours and no vote past a bootstrap's (a new
    // member of the group, or one whose bootstrap a crash cut short).
    [[nodiscard]] static bool is_new(const std::filesystem::path& dir);

    ~raft_log_store();
    raft_log_store(const raft_log_store&) = delete;
    raft_log_store& operator=(const raft_log_store&) = delete;

    // The first entry held; equals next_index() when the log holds none.
    uint64_t first_index() const noexcept { return first_index_; }
    // The index the next append takes: one past the last entry, or past the snapshot.
    uint64_t next_index() const noexcept { return next_index_; }
    // The newest snapshot, if any.
    const std::optional<raft_snapshot_record>& snapshot() const noexcept { return snapshot_; }

    // Calls fn(index, term, type, data) for every entry held, in order; `data` lives for the
    // call only. Reads the segments from disk.
    [[nodiscard]] status for_each_entry(
        const std::function<void(uint64_t, uint64_t, uint8_t, std::span<const std::byte>)>& fn)
        const;

    // Writes `entries` at next_index() on; durable only after sync().
    [[nodiscard]] status append(std::span<const raft_log_entry> entries);
    // Drops the entries from `index` on. REQUIRES: first_index() <= index <= next_index().
    // Durable after sync().
    [[nodiscard]] status truncate(uint64_t index);
    // Makes every append and truncate so far durable.
    [[nodiscard]] status sync();
    // Stores `snapshot` durably as the newest, then drops the segments whose entries all lie
    // `trailing` or more entries behind it. With trailing 0 (a snapshot installed from the
    // leader) the whole log goes and the next append takes snapshot.index + 1.
    [[nodiscard]] status put_snapshot(raft_snapshot_record snapshot, uint64_t trailing);

  private:
    struct segment;

    raft_log_store(std::filesystem::path dir, uint64_t segment_bytes);
    status load();
    status load_snapshot();
    status load_segments();
    status fail(error e);
    status check_usable() const;
    status begin_segment(uint64_t first);
    status close_current(bool sync_first);
    status write_pending();
    status remove_segment_files(size_t from, size_t to);
    status sync_dir();

    const std::filesystem::path dir_;
    const uint64_t segment_bytes_;
    std::optional<raft_snapshot_record> snapshot_;
    std::vector<segment> segments_;  // in index order; the last is the one appended to
    int fd_ = -1;                    // the last segment, open for writing; -1 when none
    bool dir_dirty_ = false;         // files were created or removed since the last sync_dir()
    bool fd_dirty_ = false;          // fd_ was written or truncated since its last fdatasync
    std::optional<error> failed_;
    uint64_t first_index_ = 1;
    uint64_t next_index_ = 1;
};

}  // namespace es::replication
