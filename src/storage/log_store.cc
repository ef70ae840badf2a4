// The partition store on RocksDB (log_store.h): topics, the log and group offsets. Layout in
// store_format.h; opening in log_store_open.cc; locking at the top of log_store_impl.h.
#include "storage/log_store.h"

#include <rocksdb/iterator.h>

#include "storage/log_store_impl.h"
#include "storage/topic_meta.h"

namespace es::storage {

using format::key_kind;
using namespace log_store_detail;

log_store::log_store(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
log_store::~log_store() = default;

// --- topics ---

status log_store::put_topic(const stored_topic& t) {
    if (t.id == 0) return make_error(errc::invalid_argument, "topic id 0 is reserved");
    ES_TRY(core::validate_topic_config(t.config));
    impl& m = *impl_;
    std::lock_guard admin(m.admin_mutex);
    uint64_t next = 0;
    {
        std::shared_lock lock(m.state_mutex);
        if (auto it = m.topics.find(t.id); it != m.topics.end()) {
            return make_error(errc::already_exists, "topic id " + std::to_string(t.id) +
                                                        " is already in the store, as topic '" +
                                                        it->second->meta.config.name + "'");
        }
        next = std::max(m.next_topic_id, t.id + 1);
    }
    // The column family first, then the metadata (see the reconciliation in open()).
    rocksdb::ColumnFamilyHandle* raw = nullptr;
    rocksdb::Status s =
        m.db->CreateColumnFamily(m.topic_options, format::column_family_name(t.id), &raw);
    if (!s.ok()) {
        return from_rocksdb(s, "creating the column family of topic '" + t.config.name +
                                   "' in the store at " + m.path);
    }
    cf_ptr cf(raw, cf_deleter{m.db.get()});
    rocksdb::WriteBatch wb;
    wb.Put(m.default_cf.get(), format::topic_key(t.id), encode_topic_meta(t));
    wb.Put(m.default_cf.get(), to_slice(format::next_topic_id_key), format::encode_u64_value(next));
    s = m.db->Write(write_options(true), &wb);
    if (!s.ok()) {
        const rocksdb::Status dropped = m.db->DropColumnFamily(cf.get());
        if (!dropped.ok()) {
            spdlog::warn(
                "store {}: could not drop the column family of the topic whose creation "
                "failed ({}); the next open drops it",
                m.path, dropped.ToString());
        }
        return from_rocksdb(
            s, "writing the metadata of topic '" + t.config.name + "' in the store at " + m.path);
    }
    auto state = std::make_shared<topic_state>(t, std::move(cf));
    std::unique_lock lock(m.state_mutex);
    m.topics.emplace(t.id, std::move(state));
    m.next_topic_id = next;
    return {};
}

status log_store::drop_topic(uint64_t topic_id) {
    impl& m = *impl_;
    std::lock_guard admin(m.admin_mutex);
    std::shared_ptr<topic_state> t;
    {
        std::shared_lock lock(m.state_mutex);
        auto found = m.find(topic_id);
        if (!found) return std::move(found).err();
        t = std::move(*found);
    }
    // The metadata first: from here on the topic is gone, even if the process dies before its
    // column family is dropped (open() drops it then).
    rocksdb::Status s =
        m.db->Delete(write_options(true), m.default_cf.get(), format::topic_key(topic_id));
    if (!s.ok()) {
        return from_rocksdb(s, "deleting the metadata of topic '" + t->meta.config.name +
                                   "' in the store at " + m.path);
    }
    {
        // Waits for an append or retention in flight, which may write to the column family.
        std::lock_guard write(m.write_mutex);
        std::unique_lock lock(m.state_mutex);
        m.topics.erase(topic_id);
        t->dropped = true;
    }
    s = m.db->DropColumnFamily(t->cf.get());
    if (!s.ok()) {
        // The topic is deleted (its metadata is gone); its data goes at the next open.
        spdlog::warn(
            "store {}: dropping the column family of deleted topic '{}' failed ({}); "
            "the next open drops it",
            m.path, t->meta.config.name, s.ToString());
    }
    // Readers still holding `t` keep a valid handle; the last one destroys it.
    return {};
}

result<std::vector<stored_topic>> log_store::topics() const {
    std::shared_lock lock(impl_->state_mutex);
    std::vector<stored_topic> out;
    out.reserve(impl_->topics.size());
    for (const auto& [id, t] : impl_->topics) out.push_back(t->meta);
    return out;
}

uint64_t log_store::next_topic_id() const {
    std::shared_lock lock(impl_->state_mutex);
    return impl_->next_topic_id;
}

// --- the log ---

status log_store::append(std::span<const append_batch> batches, bool sync) {
    impl& m = *impl_;
    struct planned {
        topic_state* topic;
        const append_batch* batch;
        batch_entry entry;
    };
    std::vector<planned> plan;
    plan.reserve(batches.size());
    // End offsets as they will be once the earlier batches of this call are written.
    std::map<std::pair<uint64_t, uint32_t>, uint64_t> pending_end;

    std::lock_guard write(m.write_mutex);
    // Topics cannot be dropped while write_mutex is held, so raw pointers into the map stay
    // valid, and partition state changes only under write_mutex, so it may be read unlocked.
    for (const append_batch& b : batches) {
        topic_state* t = nullptr;
        {
            std::shared_lock lock(m.state_mutex);
            auto found = m.find(b.topic_id, b.partition);
            if (!found) return std::move(found).err();
            t = found->get();
        }
        const partition_state& ps = t->partitions[b.partition];
        const auto key = std::make_pair(b.topic_id, b.partition);
        auto pending = pending_end.find(key);
        const uint64_t end = pending == pending_end.end() ? ps.end_offset : pending->second;
        const uint32_t count = b.records.count;
        if (count == 0) {
            return make_error(errc::invalid_argument, "empty batch for " + t->where(b.partition) +
                                                          "@" + std::to_string(b.base_offset));
        }
        ES_ASSERT_MSG(b.base_offset <= UINT64_MAX - count, "batch offsets overflow");
        const uint64_t batch_end = b.base_offset + count;
        if (batch_end <= end) continue;  // already stored: applied twice
        if (b.base_offset > end) {
            return make_error(errc::invalid_argument,
                              "batch " + std::to_string(b.base_offset) + ".." +
                                  std::to_string(batch_end) + " for " + t->where(b.partition) +
                                  " would leave a hole: the partition ends at " +
                                  std::to_string(end));
        }
        if (b.base_offset < end) {
            return make_error(errc::invalid_argument, "batch " + std::to_string(b.base_offset) +
                                                          ".." + std::to_string(batch_end) +
                                                          " for " + t->where(b.partition) +
                                                          " overlaps the end of the partition (" +
                                                          std::to_string(end) + ") only in part");
        }
        if (b.records.bytes > max_batch_bytes) {
            return make_error(errc::too_large, "batch for " + t->where(b.partition) + " is " +
                                                   std::to_string(b.records.bytes) +
                                                   " bytes; the limit is " +
                                                   std::to_string(max_batch_bytes));
        }
        // The engine built these records, so a bad one is a programmer error.
        batch_entry e{b.base_offset, count, static_cast<uint32_t>(b.records.bytes), INT64_MIN};
        size_t pos = 0;
        for (uint32_t i = 0; i < count; ++i) {
            const size_t size = checked_record_size(
                std::span(b.records.data + pos, b.records.bytes - pos), b.base_offset + i);
            ES_ASSERT_MSG(size != 0, "append: a record is malformed or has the wrong offset");
            e.max_timestamp_ns = std::max(
                e.max_timestamp_ns,
                core::load_le<int64_t>(b.records.data + pos + core::record_field::timestamp_ns));
            pos += size;
        }
        ES_ASSERT_MSG(pos == b.records.bytes, "append: run.bytes is not the sum of its records");
        plan.push_back({t, &b, e});
        pending_end[key] = batch_end;
    }
    if (plan.empty()) return {};

    rocksdb::WriteBatch& wb = m.append_batch;
    wb.Clear();  // keeps the buffer
    for (const planned& p : plan) {
        const auto* data = reinterpret_cast<const char*>(p.batch->records.data);
        added(wb.Put(p.topic->cf.get(),
                     format::batch_key(key_kind::data, p.batch->partition, p.entry.base_offset),
                     rocksdb::Slice(data, p.batch->records.bytes)));
        added(wb.Put(
            p.topic->cf.get(),
            format::batch_key(key_kind::index, p.batch->partition, p.entry.base_offset),
            format::encode_index_value({p.entry.count, p.entry.bytes, p.entry.max_timestamp_ns})));
    }
    const rocksdb::Status s = m.db->Write(m.topic_write_options(sync), &wb);
    // A rare huge append does not keep its buffer for good.
    if (wb.GetDataSize() > impl::k_append_buffer_kept) wb = rocksdb::WriteBatch();
    if (!s.ok()) {
        const planned& first = plan.front();
        return from_rocksdb(s, "appending " + std::to_string(plan.size()) + " batches (first " +
                                   first.topic->where(first.batch->partition) + "@" +
                                   std::to_string(first.entry.base_offset) + ") to the store at " +
                                   m.path);
    }
    std::unique_lock lock(m.state_mutex);
    for (const planned& p : plan) {
        partition_state& ps = p.topic->partitions[p.batch->partition];
        ps.batches.push_back(p.entry);
        ps.end_offset = p.entry.end_offset();
        ps.stored_bytes += p.entry.bytes;
    }
    return {};
}

bool log_store::direct_flush() const noexcept {
    return impl_->direct_flush;
}

status log_store::sync() {
    const rocksdb::Status s = impl_->db->SyncWAL();
    if (!s.ok()) return from_rocksdb(s, "syncing the WAL of the store at " + impl_->path);
    return {};
}

status log_store::flush(uint64_t topic_id) {
    const impl& m = *impl_;
    std::shared_ptr<topic_state> t;
    {
        std::shared_lock lock(m.state_mutex);
        auto found = m.find(topic_id);
        if (!found) return std::move(found).err();
        t = std::move(*found);
    }
    rocksdb::FlushOptions options;
    options.wait = true;
    // A flush must not wait for a write stall to clear: the stall may be what it ends.
    options.allow_write_stall = true;
    const rocksdb::Status s = m.db->Flush(options, t->cf.get());
    if (!s.ok()) {
        if (t->dropped) {
            return make_error(errc::not_found, "topic '" + t->meta.config.name + "' was deleted");
        }
        return from_rocksdb(
            s, "flushing topic '" + t->meta.config.name + "' in the store at " + m.path);
    }
    return {};
}

result<partition_bounds> log_store::bounds(uint64_t topic_id, uint32_t partition) const {
    std::shared_lock lock(impl_->state_mutex);
    auto t = impl_->find(topic_id, partition);
    if (!t) return std::move(t).err();
    const partition_state& ps = (*t)->partitions[partition];
    return partition_bounds{ps.start_offset, ps.end_offset, ps.stored_bytes};
}

result<read_result> log_store::read(uint64_t topic_id, uint32_t partition, uint64_t from,
                                    uint32_t max_events, size_t max_bytes,
                                    std::vector<std::byte>& buffer) const {
    const impl& m = *impl_;
    buffer.clear();
    read_result r;
    std::shared_ptr<topic_state> t;
    std::vector<batch_entry> wanted;  // the batches to read, in order
    uint64_t first = 0;               // the first offset to copy
    std::string upper;                // iterator bound: the first data key past the end
    rocksdb::Slice upper_slice;
    std::unique_ptr<rocksdb::Iterator> it;
    {
        std::shared_lock lock(m.state_mutex);
        auto found = m.find(topic_id, partition);
        if (!found) return std::move(found).err();
        t = std::move(*found);
        const partition_state& ps = t->partitions[partition];
        r.start_offset = ps.start_offset;
        r.end_offset = ps.end_offset;
        first = std::max(from, ps.start_offset);
        if (first >= ps.end_offset || max_events == 0) return r;
        // Enough batches for max_events and max_bytes. The first batch's bytes are not counted,
        // as the read may start deep inside it.
        uint64_t events = 0;
        size_t later_bytes = 0;
        for (size_t k = find_batch(ps, first); k < ps.batches.size(); ++k) {
            const batch_entry& e = ps.batches[k];
            wanted.push_back(e);
            events += e.end_offset() - std::max(first, e.base_offset);
            if (wanted.size() > 1) later_bytes += e.bytes;
            if (events >= max_events || later_bytes >= max_bytes) break;
        }
        upper = format::batch_key(key_kind::data, partition, ps.end_offset);
        upper_slice = rocksdb::Slice(upper);
        rocksdb::ReadOptions ro = read_options();
        ro.iterate_upper_bound = &upper_slice;
        // Taken under the lock: its implicit snapshot holds every batch listed in `wanted`.
        it.reset(m.db->NewIterator(ro, t->cf.get()));
    }

    bool full = false;
    for (size_t k = 0; k < wanted.size() && !full; ++k) {
        const batch_entry& e = wanted[k];
        const std::string key = format::batch_key(key_kind::data, partition, e.base_offset);
        if (k == 0) {
            it->Seek(key);
        } else {
            it->Next();
        }
        if (!it->status().ok()) {
            return from_rocksdb(it->status(), "reading " + t->where(partition) + "@" +
                                                  std::to_string(e.base_offset) +
                                                  " in the store at " + m.path);
        }
        if (!it->Valid() || it->key() != rocksdb::Slice(key)) {
            return m.corrupt_batch(*t, partition, e.base_offset,
                                   "the index lists it but it is gone");
        }
        auto copy = [&](uint64_t offset, std::span<const std::byte> record) {
            if (offset < first) return true;
            if (r.count >= max_events || (r.count > 0 && r.bytes + record.size() > max_bytes)) {
                full = true;
                return false;
            }
            buffer.insert(buffer.end(), record.begin(), record.end());
            ++r.count;
            r.bytes += record.size();
            return true;
        };
        ES_TRY(m.walk_batch(*t, partition, e, to_view(it->value()), copy));
    }
    return r;
}

result<std::optional<core::event_record>> log_store::lookup(uint64_t topic_id, uint32_t partition,
                                                            uint64_t offset) const {
    const impl& m = *impl_;
    std::shared_ptr<topic_state> t;
    batch_entry e;
    std::optional<snapshot_guard> snapshot;
    {
        std::shared_lock lock(m.state_mutex);
        auto found = m.find(topic_id, partition);
        if (!found) return std::move(found).err();
        t = std::move(*found);
        const partition_state& ps = t->partitions[partition];
        if (offset < ps.start_offset || offset >= ps.end_offset) {
            return std::optional<core::event_record>();
        }
        e = ps.batches[find_batch(ps, offset)];
        snapshot.emplace(m.db.get());
    }
    rocksdb::PinnableSlice value;
    ES_TRY(m.get_batch(*t, partition, e, snapshot->get(), value));
    std::optional<core::event_record> out;
    auto take = [&](uint64_t o, std::span<const std::byte> record) {
        if (o != offset) return true;
        out = core::event_record::of(partition, core::event_view::of(record.data()));
        return false;
    };
    ES_TRY(m.walk_batch(*t, partition, e, to_view(value), take));
    ES_ASSERT(out);
    return out;
}

result<uint64_t> log_store::offset_for_timestamp(uint64_t topic_id, uint32_t partition,
                                                 int64_t ts_ns) const {
    const impl& m = *impl_;
    std::shared_ptr<topic_state> t;
    batch_entry e;
    uint64_t start = 0;
    std::optional<snapshot_guard> snapshot;
    {
        std::shared_lock lock(m.state_mutex);
        auto found = m.find(topic_id, partition);
        if (!found) return std::move(found).err();
        t = std::move(*found);
        const partition_state& ps = t->partitions[partition];
        // Timestamps need not grow with offsets, so the answer lies in the first batch whose
        // newest event reaches ts_ns; the batches before it hold only older events.
        auto it = std::find_if(ps.batches.begin(), ps.batches.end(),
                               [&](const batch_entry& b) { return b.max_timestamp_ns >= ts_ns; });
        if (it == ps.batches.end()) return ps.end_offset;
        e = *it;
        start = ps.start_offset;
        snapshot.emplace(m.db.get());
    }
    rocksdb::PinnableSlice value;
    ES_TRY(m.get_batch(*t, partition, e, snapshot->get(), value));
    std::optional<uint64_t> out;
    auto first_reaching = [&](uint64_t o, std::span<const std::byte> record) {
        const auto ts = core::load_le<int64_t>(record.data() + core::record_field::timestamp_ns);
        if (o < start || ts < ts_ns) return true;
        out = o;
        return false;
    };
    ES_TRY(m.walk_batch(*t, partition, e, to_view(value), first_reaching));
    if (!out) {
        return m.corrupt_batch(*t, partition, e.base_offset,
                               "the index says an event reaches timestamp " +
                                   std::to_string(e.max_timestamp_ns) + " but none does");
    }
    return *out;
}

result<partition_bounds> log_store::apply_retention(uint64_t topic_id, uint32_t partition,
                                                    uint64_t retention_bytes,
                                                    int64_t older_than_ns) {
    impl& m = *impl_;
    std::lock_guard write(m.write_mutex);
    auto found = m.find_locked(topic_id, partition);
    if (!found) return std::move(found).err();
    const std::shared_ptr<topic_state> t = std::move(*found);
    partition_state& ps = t->partitions[partition];  // read unlocked: write_mutex is held
    // Whole batches from the start: by age, up to the first batch with a young enough event;
    // by bytes, while over the limit, but never the newest batch (it may have just been
    // appended and not yet read by anyone).
    size_t drop = 0;
    uint64_t bytes = ps.stored_bytes;
    while (drop < ps.batches.size()) {
        const batch_entry& e = ps.batches[drop];
        const bool by_age = older_than_ns != 0 && e.max_timestamp_ns < older_than_ns;
        const bool by_bytes = drop + 1 < ps.batches.size() && bytes > retention_bytes;
        if (!by_age && !by_bytes) break;
        bytes -= e.bytes;
        ++drop;
    }
    if (drop == 0) return partition_bounds{ps.start_offset, ps.end_offset, bytes};
    const uint64_t new_start =
        drop == ps.batches.size() ? ps.end_offset : ps.batches[drop].base_offset;
    // Not synced: lost at a crash, it only brings deleted events back until the next pass.
    const rocksdb::Status s = m.move_log_start(*t, partition, drop, new_start, ps.end_offset);
    if (!s.ok()) {
        return from_rocksdb(s,
                            "retention of " + t->where(partition) + " in the store at " + m.path);
    }
    return partition_bounds{new_start, ps.end_offset, bytes};
}

status log_store::skip_to(uint64_t topic_id, uint32_t partition, uint64_t offset) {
    impl& m = *impl_;
    std::lock_guard write(m.write_mutex);
    auto found = m.find_locked(topic_id, partition);
    if (!found) return std::move(found).err();
    const std::shared_ptr<topic_state> t = std::move(*found);
    partition_state& ps = t->partitions[partition];  // read unlocked: write_mutex is held
    if (offset < ps.end_offset) {
        return make_error(errc::invalid_argument, t->where(partition) + " ends at offset " +
                                                      std::to_string(ps.end_offset) +
                                                      ": cannot skip to " + std::to_string(offset));
    }
    if (offset == ps.end_offset && ps.batches.empty()) return {};
    const rocksdb::Status s = m.move_log_start(*t, partition, ps.batches.size(), offset, offset);
    if (!s.ok()) {
        return from_rocksdb(s, "skipping " + t->where(partition) + " to offset " +
                                   std::to_string(offset) + " in the store at " + m.path);
    }
    return {};
}

// --- consumer-group offsets ---

status log_store::commit_offset(uint64_t topic_id, std::string_view group, uint32_t partition,
                                uint64_t offset, bool sync) {
    ES_TRY(core::validate_group_name(group));
    const impl& m = *impl_;
    auto found = m.find_locked(topic_id, partition);
    if (!found) return std::move(found).err();
    const std::shared_ptr<topic_state> t = std::move(*found);
    const rocksdb::Status s =
        m.db->Put(m.topic_write_options(sync), t->cf.get(),
                  format::group_offset_key(partition, group), format::encode_u64_value(offset));
    if (!s.ok()) {
        if (t->dropped) {
            return make_error(errc::not_found, "topic '" + t->meta.config.name + "' was deleted");
        }
        return from_rocksdb(s, "committing the offset of group '" + std::string(group) + "' on " +
                                   t->where(partition) + " in the store at " + m.path);
    }
    return {};
}

result<std::optional<uint64_t>> log_store::committed_offset(uint64_t topic_id,
                                                            std::string_view group,
                                                            uint32_t partition) const {
    ES_TRY(core::validate_group_name(group));
    const impl& m = *impl_;
    auto found = m.find_locked(topic_id, partition);
    if (!found) return std::move(found).err();
    const std::shared_ptr<topic_state> t = std::move(*found);
    std::string value;
    const rocksdb::Status s =
        m.db->Get(read_options(), t->cf.get(), format::group_offset_key(partition, group), &value);
    if (s.IsNotFound()) return std::optional<uint64_t>();
    if (!s.ok()) {
        return from_rocksdb(s, "reading the offset of group '" + std::string(group) + "' on " +
                                   t->where(partition) + " in the store at " + m.path);
    }
    const auto offset = format::decode_u64_value(value);
    if (!offset) {
        return make_error(errc::io_error,
                          "the store at " + m.path + " is corrupt: the offset of group '" +
                              std::string(group) + "' on " + t->where(partition) + " is malformed");
    }
    return std::optional<uint64_t>(*offset);
}

result<std::vector<std::pair<std::string, uint64_t>>> log_store::committed_offsets(
    uint64_t topic_id, uint32_t partition) const {
    const impl& m = *impl_;
    auto found = m.find_locked(topic_id, partition);
    if (!found) return std::move(found).err();
    const std::shared_ptr<topic_state> t = std::move(*found);
    const std::string prefix = format::partition_key(key_kind::group_offset, partition);
    const std::string upper = format::partition_key(key_kind::group_offset, partition + 1);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro = read_options();
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, t->cf.get()));
    std::vector<std::pair<std::string, uint64_t>> out;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
        const auto offset =
            format::decode_u64_value(std::string_view(it->value().data(), it->value().size()));
        const std::string_view key(it->key().data(), it->key().size());
        if (!offset || key.size() <= prefix.size()) {
            return make_error(errc::io_error, "the store at " + m.path +
                                                  " is corrupt: a group offset on " +
                                                  t->where(partition) + " is malformed");
        }
        out.emplace_back(std::string(key.substr(prefix.size())), *offset);
    }
    if (!it->status().ok()) {
        return from_rocksdb(it->status(), "listing the group offsets of " + t->where(partition) +
                                              " in the store at " + m.path);
    }
    return out;
}

}  // namespace es::storage
