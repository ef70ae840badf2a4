// Opening the store (log_store.h): deciding whether to create, checking that the database is
// an eventstream store of this format, reconciling topic metadata with column families, and
// rebuilding each partition's bounds and batch index from the 'i' and 'm' keys.
#include "storage/log_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/iterator.h>
#include <rocksdb/table.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "storage/log_store_impl.h"
#include "storage/rocksdb_crc32c.h"
#include "storage/topic_meta.h"

namespace es::storage {

namespace fs = std::filesystem;
using format::key_kind;
using namespace log_store_detail;

namespace {

error open_error(const std::string& path, const rocksdb::Status& s) {
    // Whatever RocksDB says when it cannot open, the store cannot be used: io_error.
    error e = from_rocksdb(s, "cannot open the store at " + path);
    e.code = errc::io_error;
    return e;
}

error not_a_store(const std::string& path, const std::string& why) {
    return make_error(errc::config_error,
                      path + " is not an eventstream store (" + why +
                          "); point the store at an empty or missing directory");
}

// Whether a file in `dir` can be written with O_DIRECT: some file systems (tmpfs before Linux
// 6.6) refuse the flag, others the alignment; either way RocksDB's flushes would then fail.
// Empty when it can, else why not. The probe's name is gone before this returns, even when
// open() created the file and then refused the flag, so it never counts as a foreign file in
// the store's directory.
std::string direct_write_refusal(const std::string& dir) {
    const std::string probe = (fs::path(dir) / ".direct-io-probe").string();
    const int fd = ::open(probe.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
    const int open_errno = errno;
    ::unlink(probe.c_str());
    if (fd < 0) return std::string("open with O_DIRECT: ") + std::strerror(open_errno);
    constexpr size_t block = 4096;
    void* buffer = nullptr;
    std::string why;
    if (::posix_memalign(&buffer, block, block) != 0) {
        why = "no memory for the probe block";
    } else {
        std::memset(buffer, 0, block);
        if (::pwrite(fd, buffer, block, 0) != static_cast<ssize_t>(block)) {
            why = std::string("an aligned O_DIRECT write: ") + std::strerror(errno);
        }
    }
    std::free(buffer);
    ::close(fd);
    return why;
}

}  // namespace

// Rebuilds the partitions' bounds and batch index of `t` from its 'i' and 'm' keys.
status log_store::impl::load_topic(topic_state& t) const {
    auto corrupt = [&](const std::string& detail) {
        return make_error(errc::io_error, "the store at " + path + " is corrupt: topic '" +
                                              t.meta.config.name + "' (column family " +
                                              format::column_family_name(t.meta.id) +
                                              "): " + detail);
    };
    const uint32_t partitions = t.meta.config.partitions;

    // Index entries, in key order: by partition, then base offset.
    {
        const std::string lower(1, static_cast<char>(key_kind::index));
        const std::string upper(1, static_cast<char>(key_kind::index) + 1);
        const rocksdb::Slice upper_slice(upper);
        rocksdb::ReadOptions ro = read_options();
        ro.iterate_upper_bound = &upper_slice;
        ro.fill_cache = false;
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, t.cf.get()));
        for (it->Seek(lower); it->Valid(); it->Next()) {
            const auto key = format::parse_batch_key(to_view(it->key()), key_kind::index);
            if (!key) return corrupt("malformed index key");
            const auto value = format::decode_index_value(to_view(it->value()));
            if (key->partition >= partitions) {
                return corrupt("index entry for partition " + std::to_string(key->partition) +
                               " of " + std::to_string(partitions));
            }
            const std::string at = t.where(key->partition) + "@" + std::to_string(key->base_offset);
            if (!value || value->count == 0 || value->bytes == 0) {
                return corrupt("malformed index entry at " + at);
            }
            if (value->count > UINT64_MAX - key->base_offset) {
                return corrupt("index entry at " + at + " runs past the largest offset");
            }
            partition_state& ps = t.partitions[key->partition];
            if (!ps.batches.empty() && ps.batches.back().end_offset() != key->base_offset) {
                return corrupt("index of " + t.where(key->partition) + " jumps from offset " +
                               std::to_string(ps.batches.back().end_offset()) + " to " +
                               std::to_string(key->base_offset));
            }
            ps.batches.push_back(
                {key->base_offset, value->count, value->bytes, value->max_timestamp_ns});
            ps.stored_bytes += value->bytes;
        }
        if (!it->status().ok()) {
            return from_rocksdb(it->status(), "reading the index of topic '" + t.meta.config.name +
                                                  "' in the store at " + path);
        }
    }

    // Partition bounds written by retention.
    std::vector<std::optional<format::meta_value>> metas(partitions);
    {
        const std::string lower(1, static_cast<char>(key_kind::meta));
        const std::string upper(1, static_cast<char>(key_kind::meta) + 1);
        const rocksdb::Slice upper_slice(upper);
        rocksdb::ReadOptions ro = read_options();
        ro.iterate_upper_bound = &upper_slice;
        ro.fill_cache = false;
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, t.cf.get()));
        for (it->Seek(lower); it->Valid(); it->Next()) {
            const auto partition = format::parse_meta_key(to_view(it->key()));
            if (!partition || *partition >= partitions) return corrupt("malformed bounds key");
            const auto value = format::decode_meta_value(to_view(it->value()));
            if (!value) return corrupt("malformed bounds of " + t.where(*partition));
            metas[*partition] = value;
        }
        if (!it->status().ok()) {
            return from_rocksdb(it->status(), "reading the bounds of topic '" + t.meta.config.name +
                                                  "' in the store at " + path);
        }
    }

    for (uint32_t p = 0; p < partitions; ++p) {
        partition_state& ps = t.partitions[p];
        const auto& m = metas[p];
        if (ps.batches.empty()) {
            ps.start_offset = m ? m->start_offset : 0;
            ps.end_offset = m ? m->end_offset : 0;
            if (m && m->start_offset != m->end_offset) {
                return corrupt(t.where(p) + " holds no batch but its bounds are " +
                               std::to_string(m->start_offset) + ".." +
                               std::to_string(m->end_offset));
            }
            continue;
        }
        ps.start_offset = ps.batches.front().base_offset;
        ps.end_offset = ps.batches.back().end_offset();
        if (m && (m->start_offset != ps.start_offset || m->end_offset > ps.end_offset)) {
            return corrupt(t.where(p) + " has batches " + std::to_string(ps.start_offset) + ".." +
                           std::to_string(ps.end_offset) + " but bounds " +
                           std::to_string(m->start_offset) + ".." + std::to_string(m->end_offset));
        }
        if (!m && ps.start_offset != 0) {
            return corrupt(t.where(p) + " starts at offset " + std::to_string(ps.start_offset) +
                           " with no bounds entry");
        }
    }
    return {};
}

result<std::unique_ptr<log_store>> log_store::open(const store_options& options) {
    const std::string& path = options.path;
    if (path.empty()) return make_error(errc::config_error, "the store path is empty");

    // Decide whether to create, from what the directory holds.
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
        return make_error(errc::io_error,
                          "cannot access the store at " + path + ": " + ec.message());
    }
    bool create = false;
    if (!fs::exists(st)) {
        create = true;
    } else if (!fs::is_directory(st)) {
        return not_a_store(path, "it is not a directory");
    } else {
        fs::directory_iterator it(path, ec);
        if (ec) {
            return make_error(errc::io_error,
                              "cannot list the store directory " + path + ": " + ec.message());
        }
        create = it == fs::directory_iterator();
    }
    if (create && !options.create_if_missing) {
        return make_error(errc::not_found,
                          "no store at " + path + " (and create_if_missing is off)");
    }
    if (!create && !fs::exists(fs::path(path) / "CURRENT", ec)) {
        return not_a_store(path, "the directory holds files but no RocksDB database");
    }
    if (create) {
        fs::create_directories(path, ec);
        if (ec) {
            return make_error(errc::io_error,
                              "cannot create the store directory " + path + ": " + ec.message());
        }
    }

    // Once per process: whether RocksDB's checksums run on the CPU's instruction.
    static const bool crc_logged = [] {
        if (rocksdb_crc32c_accelerated()) {
            spdlog::info("store: RocksDB checksums use the CPU's CRC-32C instruction");
        } else {
            spdlog::warn(
                "store: RocksDB checksums use its own table code (slower): this librocksdb "
                "does not call the CRC-32C function we replace, or the CPU lacks SSE4.2");
        }
        return true;
    }();
    (void)crc_logged;

    auto im = std::make_unique<impl>();
    im->path = path;
    im->topic_wal = options.topic_wal;
    if (options.direct_flush) {
        const std::string refusal = direct_write_refusal(path);
        im->direct_flush = refusal.empty();
        if (im->direct_flush) {
            spdlog::info(
                "store: flushes and compactions in {} write past the page cache "
                "(O_DIRECT)",
                path);
        } else {
            spdlog::info("store: {} refuses O_DIRECT ({}); flushes go through the page cache", path,
                         refusal);
        }
    }
    im->block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = im->block_cache;
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.write_buffer_size = options.write_buffer_bytes;
    cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // Tuned for a log: keys arrive in order and are read back mostly once.
    // - Batches (the large values) go to blob files and the LSM tree keeps only small keys and
    //   pointers, so compaction does not rewrite the events again and again; a blob file goes
    //   once retention has removed every batch in it.
    // - No compression: on a small machine its CPU is better spent on the data path.
    // - Room for a few memtables per column family, so that a flush in progress does not stop
    //   writes.
    cf_options.enable_blob_files = true;
    cf_options.min_blob_size = options.blob_min_bytes;
    cf_options.blob_file_size = options.blob_file_bytes;
    cf_options.enable_blob_garbage_collection = false;
    cf_options.compression = rocksdb::kNoCompression;
    cf_options.blob_compression_type = rocksdb::kNoCompression;
    cf_options.max_write_buffer_number = 4;
    cf_options.level0_slowdown_writes_trigger = 40;
    cf_options.level0_stop_writes_trigger = 64;
    im->topic_options = cf_options;

    rocksdb::DBOptions db_options;
    db_options.create_if_missing = create;
    db_options.create_missing_column_families = false;
    db_options.paranoid_checks = true;
    // Every column family shares one WAL; a quiet topic would otherwise keep old WAL files
    // alive. Past this size RocksDB flushes the column families that hold the oldest WAL.
    db_options.max_total_wal_size = std::max<uint64_t>(4 * options.write_buffer_bytes, 64 << 20);
    db_options.keep_log_file_num = 4;
    // One bound on memtable memory over every column family, however many topics there are.
    db_options.db_write_buffer_size = options.memtable_total_bytes;
    db_options.max_background_jobs = 2;
    // Hand written files to the disk a megabyte at a time in the background, so that an fsync
    // (or a flush's final sync) never finds hundreds of megabytes waiting: this is what keeps
    // the write latency flat.
    db_options.bytes_per_sync = 1 << 20;
    db_options.wal_bytes_per_sync = 1 << 20;
    db_options.use_direct_io_for_flush_and_compaction = im->direct_flush;

    std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName};
    if (!create) {
        names.clear();
        const rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path, &names);
        if (!s.ok()) return open_error(path, s);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, cf_options);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    {
        const rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
        if (!s.ok()) return open_error(path, s);
    }
    im->db.reset(raw);
    rocksdb::DB* db = raw;
    // Own every handle at once, so that an error below releases them before the database.
    std::map<uint64_t, cf_ptr> topic_cfs;
    std::vector<std::string> foreign_cfs;
    for (size_t i = 0; i < handles.size(); ++i) {
        cf_ptr h(handles[i], cf_deleter{db});
        if (names[i] == rocksdb::kDefaultColumnFamilyName) {
            im->default_cf = std::move(h);
        } else if (auto id = format::parse_column_family_name(names[i])) {
            topic_cfs.emplace(*id, std::move(h));
        } else {
            foreign_cfs.push_back(names[i]);
        }
    }
    ES_ASSERT(im->default_cf);
    rocksdb::ColumnFamilyHandle* const default_cf = im->default_cf.get();

    // The format marker.
    std::string marker;
    rocksdb::Status s = db->Get(read_options(), default_cf, format::format_key, &marker);
    if (s.IsNotFound()) {
        // A database this store created but left before writing its marker (a crash right
        // after creation) is empty; anything else without a marker is not ours.
        bool empty = handles.size() == 1;
        if (empty) {
            std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options(), default_cf));
            it->SeekToFirst();
            if (!it->status().ok()) return open_error(path, it->status());
            empty = !it->Valid();
        }
        if (!empty) return not_a_store(path, "a RocksDB database without the format marker");
        rocksdb::WriteBatch wb;
        wb.Put(default_cf, to_slice(format::format_key), format::format_marker());
        wb.Put(default_cf, to_slice(format::next_topic_id_key), format::encode_u64_value(1));
        s = db->Write(write_options(true), &wb);
        if (!s.ok()) return from_rocksdb(s, "writing the format marker of the store at " + path);
        marker = format::format_marker();
    } else if (!s.ok()) {
        return open_error(path, s);
    }
    if (marker != format::format_marker()) {
        if (marker.starts_with(format::format_marker_prefix)) {
            return make_error(errc::config_error,
                              "the store at " + path + " has format version " +
                                  marker.substr(format::format_marker_prefix.size()) +
                                  "; this build reads version " +
                                  std::to_string(format::format_version));
        }
        return not_a_store(path, "a RocksDB database with another format marker");
    }
    if (!foreign_cfs.empty()) {
        return make_error(errc::io_error, "the store at " + path +
                                              " is corrupt: unexpected column family '" +
                                              foreign_cfs.front() + "'");
    }

    // next_topic_id and the topic metadata.
    std::string next_value;
    s = db->Get(read_options(), default_cf, format::next_topic_id_key, &next_value);
    if (!s.ok() && !s.IsNotFound()) return open_error(path, s);
    const auto next = format::decode_u64_value(next_value);
    if (s.IsNotFound() || !next) {
        return make_error(errc::io_error, "the store at " + path +
                                              " is corrupt: next_topic_id is missing or "
                                              "malformed");
    }
    uint64_t next_id = std::max<uint64_t>(*next, 1);
    std::map<uint64_t, stored_topic> metas;
    {
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options(), default_cf));
        for (it->Seek(to_slice(format::topic_key_prefix));
             it->Valid() && it->key().starts_with(to_slice(format::topic_key_prefix)); it->Next()) {
            const auto id = format::parse_topic_key(to_view(it->key()));
            auto meta = decode_topic_meta(to_view(it->value()));
            if (!id || !meta || meta->id != *id) {
                return make_error(errc::io_error,
                                  "the store at " + path + " is corrupt: bad topic metadata" +
                                      (meta ? std::string() : ": " + meta.err().message));
            }
            metas.emplace(*id, std::move(*meta));
        }
        if (!it->status().ok()) return open_error(path, it->status());
    }

    // Reconcile metadata and column families. drop_topic deletes the metadata first and then
    // the column family, and put_topic creates the column family first and then the metadata,
    // so a crash in between leaves a column family without metadata: a topic that is deleted,
    // or was never acknowledged as created. Such orphans are dropped here. Metadata without a
    // column family cannot come from a crash, so it means damage, and the store refuses to
    // open rather than bring the topic back empty with offsets from 0.
    for (auto it = topic_cfs.begin(); it != topic_cfs.end();) {
        next_id = std::max(next_id, it->first + 1);
        if (metas.contains(it->first)) {
            ++it;
            continue;
        }
        spdlog::warn(
            "store {}: dropping column family {}, which has no topic metadata (a topic "
            "deletion or creation was interrupted)",
            path, format::column_family_name(it->first));
        s = db->DropColumnFamily(it->second.get());
        if (!s.ok()) {
            return from_rocksdb(s, "dropping the orphan column family " +
                                       format::column_family_name(it->first) + " of the store at " +
                                       path);
        }
        it = topic_cfs.erase(it);
    }
    for (auto& [id, meta] : metas) {
        next_id = std::max(next_id, id + 1);
        auto cf = topic_cfs.find(id);
        if (cf == topic_cfs.end()) {
            return make_error(errc::io_error, "the store at " + path + " is damaged: topic '" +
                                                  meta.config.name + "' (id " + std::to_string(id) +
                                                  ") has metadata but no column "
                                                  "family " +
                                                  format::column_family_name(id));
        }
        auto t = std::make_shared<topic_state>(std::move(meta), std::move(cf->second));
        ES_TRY(im->load_topic(*t));
        im->topics.emplace(id, std::move(t));
    }
    im->next_topic_id = next_id;
    return std::unique_ptr<log_store>(new log_store(std::move(im)));
}

}  // namespace es::storage
