// Private to log_store: its in-memory state (per-partition bounds and batch index, topics and
// their column families), shared by log_store.cc (the log, topics, offsets) and
// log_store_open.cc (opening and checking a database).
//
// Locking. Three mutexes, always taken in this order:
//   admin_mutex  serialises put_topic and drop_topic (control plane).
//   write_mutex  serialises the writers of the logs (append, apply_retention) and the moment a
//                dropped topic leaves the topic map, so that a write never goes to a column
//                family being dropped. It is held across RocksDB writes.
//   state_mutex  (shared) guards the topic map, next_topic_id and every partition_state. It is
//                held only for in-memory work and for taking a RocksDB snapshot or iterator,
//                never across a RocksDB read or write, so readers never wait for a write's
//                fsync. partition_state changes only under write_mutex and an exclusive
//                state_mutex, so a holder of write_mutex may read it without state_mutex.
// Readers copy what they need from the index and take a RocksDB snapshot (or iterator) under a
// shared state_mutex. Appends change the index after their RocksDB write and retention before
// its write, so every batch a reader finds in the index is in its snapshot.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "storage/log_store.h"
#include "storage/record_check.h"
#include "storage/rocksdb_error.h"
#include "storage/store_format.h"

namespace es::storage {

// Names private to the log_store implementation.
namespace log_store_detail {

// Largest batch append() takes: the index keeps its size in 32 bits, and RocksDB values this
// large already strain memory.
inline constexpr size_t max_batch_bytes = size_t{1} << 30;

// One batch of a partition, as the index on disk ('i' keys) describes it.
struct batch_entry {
    uint64_t base_offset = 0;
    uint32_t count = 0;
    uint32_t bytes = 0;
    int64_t max_timestamp_ns = 0;

    uint64_t end_offset() const noexcept { return base_offset + count; }
};

struct partition_state {
    uint64_t start_offset = 0;
    uint64_t end_offset = 0;
    uint64_t stored_bytes = 0;
    // Contiguous: batches[k + 1].base_offset == batches[k].end_offset(); the first starts at
    // start_offset and the last ends at end_offset (empty when start_offset == end_offset).
    std::deque<batch_entry> batches;
};

// Index of the batch holding `offset`. REQUIRES: the batches hold it.
inline size_t find_batch(const partition_state& ps, uint64_t offset) {
    auto it = std::upper_bound(ps.batches.begin(), ps.batches.end(), offset,
                               [](uint64_t o, const batch_entry& e) { return o < e.base_offset; });
    ES_ASSERT(it != ps.batches.begin());
    return static_cast<size_t>(std::prev(it) - ps.batches.begin());
}

struct cf_deleter {
    rocksdb::DB* db = nullptr;
    void operator()(rocksdb::ColumnFamilyHandle* h) const {
        if (h) db->DestroyColumnFamilyHandle(h);
    }
};
using cf_ptr = std::unique_ptr<rocksdb::ColumnFamilyHandle, cf_deleter>;

inline rocksdb::ReadOptions read_options(const rocksdb::Snapshot* snapshot = nullptr) {
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.snapshot = snapshot;
    return ro;
}

inline rocksdb::WriteOptions write_options(bool sync) {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return wo;
}

inline rocksdb::Slice to_slice(std::string_view s) {
    return {s.data(), s.size()};
}
inline std::string_view to_view(const rocksdb::Slice& s) {
    return {s.data(), s.size()};
}

// A snapshot released when it goes out of scope.
class snapshot_guard {
  public:
    explicit snapshot_guard(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
    ~snapshot_guard() { db_->ReleaseSnapshot(snapshot_); }
    snapshot_guard(const snapshot_guard&) = delete;
    snapshot_guard& operator=(const snapshot_guard&) = delete;
    const rocksdb::Snapshot* get() const noexcept { return snapshot_; }

  private:
    rocksdb::DB* db_;
    const rocksdb::Snapshot* snapshot_;
};

// A durable topic while the store is open.
struct topic_state {
    topic_state(stored_topic m, cf_ptr handle)
        : meta(std::move(m)), cf(std::move(handle)), partitions(meta.config.partitions) {}

    // Constant after construction.
    const stored_topic meta;
    const cf_ptr cf;
    // Guarded by state_mutex (see the top of this file).
    std::vector<partition_state> partitions;
    // Set once, under write_mutex and state_mutex, when drop_topic unlinks the topic.
    std::atomic<bool> dropped{false};

    // "<topic>/<partition>", for messages.
    std::string where(uint32_t partition) const {
        return meta.config.name + "/" + std::to_string(partition);
    }
};

// A WriteBatch refuses an entry only when a key or value passes 4 GiB, which the limits here
// rule out.
inline void added(const rocksdb::Status& s) {
    ES_ASSERT_MSG(s.ok(), "WriteBatch refused an entry");
}

}  // namespace log_store_detail

// Everything the store holds in memory. Its members are public to the two files that
// implement log_store; the comment at the top of this file says what guards them.
struct log_store::impl {
    ~impl() {
        // Column family handles go before the database.
        topics.clear();
        default_cf.reset();
        if (db) {
            const rocksdb::Status s = db->Close();
            if (!s.ok()) spdlog::warn("closing the store at {}: {}", path, s.ToString());
        }
    }

    // Constant after open.
    std::string path;
    bool topic_wal = true;      // store_options::topic_wal
    bool direct_flush = false;  // store_options::direct_flush, where the file system takes it
    std::shared_ptr<rocksdb::Cache> block_cache;
    rocksdb::ColumnFamilyOptions topic_options;
    std::unique_ptr<rocksdb::DB> db;
    log_store_detail::cf_ptr default_cf;

    std::mutex admin_mutex;
    std::mutex write_mutex;
    // append()'s batch, kept between calls (guarded by write_mutex) so that its buffer is not
    // allocated afresh and faulted in page by page every time; one that grew past
    // k_append_buffer_kept is let go after its append.
    static constexpr size_t k_append_buffer_kept = 16u << 20;
    rocksdb::WriteBatch append_batch;
    mutable std::shared_mutex state_mutex;
    // Guarded by state_mutex.
    std::map<uint64_t, std::shared_ptr<log_store_detail::topic_state>> topics;
    uint64_t next_topic_id = 1;

    // Options for a write to a topic's column family (see store_options::topic_wal).
    rocksdb::WriteOptions topic_write_options(bool sync) const {
        rocksdb::WriteOptions wo = log_store_detail::write_options(sync && topic_wal);
        wo.disableWAL = !topic_wal;
        return wo;
    }

    // Moves a partition's log start up: its first `drop` batches go and its bounds become
    // [start, end). The index changes first, so no reader finds a batch in the index that its
    // snapshot no longer holds (see the top of log_store.cc); then the batches below `start`
    // (data and index) are deleted and the bounds written, not synced. On a failed write the
    // index is put back. REQUIRES: write_mutex held; drop <= the partition's batches.
    rocksdb::Status move_log_start(log_store_detail::topic_state& t, uint32_t partition,
                                   size_t drop, uint64_t start, uint64_t end) {
        log_store_detail::partition_state& ps = t.partitions[partition];
        const log_store_detail::partition_state before{
            ps.start_offset, ps.end_offset, ps.stored_bytes, {}};
        std::vector<log_store_detail::batch_entry> removed(ps.batches.begin(),
                                                           ps.batches.begin() + drop);
        uint64_t removed_bytes = 0;
        for (const auto& e : removed) removed_bytes += e.bytes;
        {
            std::unique_lock lock(state_mutex);
            ps.batches.erase(ps.batches.begin(), ps.batches.begin() + drop);
            ps.start_offset = start;
            ps.end_offset = end;
            ps.stored_bytes -= removed_bytes;
        }
        rocksdb::WriteBatch wb;
        rocksdb::ColumnFamilyHandle* cf = t.cf.get();
        for (auto kind : {format::key_kind::data, format::key_kind::index}) {
            log_store_detail::added(wb.DeleteRange(cf, format::batch_key(kind, partition, 0),
                                                   format::batch_key(kind, partition, start)));
        }
        log_store_detail::added(wb.Put(cf, format::partition_key(format::key_kind::meta, partition),
                                       format::encode_meta_value({start, end})));
        const rocksdb::Status s = db->Write(topic_write_options(false), &wb);
        if (!s.ok()) {
            std::unique_lock lock(state_mutex);
            ps.batches.insert(ps.batches.begin(), removed.begin(), removed.end());
            ps.start_offset = before.start_offset;
            ps.end_offset = before.end_offset;
            ps.stored_bytes = before.stored_bytes;
        }
        return s;
    }

    // The live topic with this id. REQUIRES: state_mutex held.
    result<std::shared_ptr<log_store_detail::topic_state>> find(uint64_t topic_id) const {
        auto it = topics.find(topic_id);
        if (it == topics.end()) {
            return make_error(errc::not_found, "no durable topic with id " +
                                                   std::to_string(topic_id) + " in the store at " +
                                                   path);
        }
        return it->second;
    }

    // find(topic_id, partition) under a shared lock of its own, for callers that need nothing
    // else of the state while they hold it.
    result<std::shared_ptr<log_store_detail::topic_state>> find_locked(uint64_t topic_id,
                                                                       uint32_t partition) const {
        std::shared_lock lock(state_mutex);
        return find(topic_id, partition);
    }

    // The live topic and a check of the partition. REQUIRES: state_mutex held.
    result<std::shared_ptr<log_store_detail::topic_state>> find(uint64_t topic_id,
                                                                uint32_t partition) const {
        auto t = find(topic_id);
        if (!t) return t;
        const auto& cfg = (*t)->meta.config;
        if (partition >= cfg.partitions) {
            return make_error(errc::not_found, "topic '" + cfg.name + "' has " +
                                                   std::to_string(cfg.partitions) +
                                                   " partitions; there is no partition " +
                                                   std::to_string(partition));
        }
        return t;
    }

    error corrupt_batch(const log_store_detail::topic_state& t, uint32_t partition,
                        uint64_t base_offset, const std::string& detail) const {
        return make_error(errc::io_error, "corrupt batch at " + t.where(partition) + "@" +
                                              std::to_string(base_offset) + " in the store at " +
                                              path + ": " + detail);
    }

    // Calls f(offset, record) for each record of a batch value read from disk, after checking
    // it, until f returns false. Error: io_error when the value does not match its index entry
    // or a record is malformed.
    template <class F>
    status walk_batch(const log_store_detail::topic_state& t, uint32_t partition,
                      const log_store_detail::batch_entry& e, std::string_view value, F&& f) const {
        if (value.size() != e.bytes) {
            return corrupt_batch(t, partition, e.base_offset,
                                 "the value is " + std::to_string(value.size()) +
                                     " bytes; the index says " + std::to_string(e.bytes));
        }
        const auto* data = reinterpret_cast<const std::byte*>(value.data());
        size_t pos = 0;
        for (uint32_t i = 0; i < e.count; ++i) {
            const uint64_t offset = e.base_offset + i;
            const size_t size =
                checked_record_size(std::span(data + pos, value.size() - pos), offset);
            if (size == 0) {
                return corrupt_batch(t, partition, e.base_offset,
                                     "record " + std::to_string(offset) + " is malformed");
            }
            if (!f(offset, std::span(data + pos, size))) return {};
            pos += size;
        }
        if (pos != value.size()) {
            return corrupt_batch(
                t, partition, e.base_offset,
                std::to_string(value.size() - pos) + " bytes follow the batch's last record");
        }
        return {};
    }

    // The data value of batch `e`, read at `snapshot`.
    status get_batch(const log_store_detail::topic_state& t, uint32_t partition,
                     const log_store_detail::batch_entry& e, const rocksdb::Snapshot* snapshot,
                     rocksdb::PinnableSlice& value) const {
        const std::string key = format::batch_key(format::key_kind::data, partition, e.base_offset);
        const rocksdb::Status s =
            db->Get(log_store_detail::read_options(snapshot), t.cf.get(), key, &value);
        if (s.IsNotFound()) {
            return corrupt_batch(t, partition, e.base_offset, "the index lists it but it is gone");
        }
        if (!s.ok()) {
            return from_rocksdb(s, "reading " + t.where(partition) + "@" +
                                       std::to_string(e.base_offset) + " in the store at " + path);
        }
        return {};
    }

    status load_topic(log_store_detail::topic_state& t) const;
};
}  // namespace es::storage
