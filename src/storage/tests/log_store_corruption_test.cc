// log_store against damaged or foreign databases: it must refuse or report an error, never
// crash, repair or wipe. The damage is made through a raw RocksDB handle on the store's
// directory while the store is closed, or by overwriting bytes of its files.
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "storage/log_store.h"
#include "storage/store_format.h"
#include "storage/tests/store_fixture.h"

namespace es::storage {
namespace {

using testing::durable_topic;
using testing::open_store;
using testing::simple_run;
using testing::temp_dir;

constexpr uint64_t orders = 1;

// A raw RocksDB handle on a closed store, with every column family open.
class raw_db {
  public:
    explicit raw_db(const std::string& path, bool create = false) {
        rocksdb::DBOptions options;
        options.create_if_missing = create;
        std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName};
        if (!create) {
            EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(options, path, &names).ok());
        }
        std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
        for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        rocksdb::DB* db = nullptr;
        const rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &handles, &db);
        EXPECT_TRUE(s.ok()) << s.ToString();
        db_.reset(db);
        for (size_t i = 0; i < handles.size(); ++i) cfs_[names[i]] = handles[i];
    }
    ~raw_db() {
        for (auto& [name, h] : cfs_) db_->DestroyColumnFamilyHandle(h);
        EXPECT_TRUE(db_->Close().ok());
    }

    rocksdb::DB* db() { return db_.get(); }
    rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
        EXPECT_TRUE(cfs_.contains(name)) << name;
        return cfs_[name];
    }
    void put(const std::string& cf_name, const std::string& key, const std::string& value) {
        ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), cf(cf_name), key, value).ok());
    }
    void create_cf(const std::string& name) {
        rocksdb::ColumnFamilyHandle* h = nullptr;
        ASSERT_TRUE(db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), name, &h).ok());
        cfs_[name] = h;
    }
    void flush_all() {
        for (auto& [name, h] : cfs_) ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions(), h).ok());
    }
    std::vector<std::string> column_families() const {
        std::vector<std::string> out;
        for (const auto& [name, h] : cfs_) out.push_back(name);
        return out;
    }

  private:
    std::unique_ptr<rocksdb::DB> db_;
    std::map<std::string, rocksdb::ColumnFamilyHandle*> cfs_;
};

// Writes a store with topic "orders" holding 30 events in 6 batches in partition 0.
void write_store(const std::string& path) {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put_topic(durable_topic(orders, "orders")));
    for (uint64_t base = 0; base < 30; base += 5) {
        const auto run = simple_run(base, 5, 1000, std::string(200, 'x'));
        const append_batch b = run.to(orders, 0);
        ASSERT_TRUE(store->append({&b, 1}, true));
    }
}

// Overwrites `length` bytes at `at` (from the end when negative) of a file with 0x5a.
void overwrite(const std::filesystem::path& file, long at, size_t length) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f) << file;
    const auto size = static_cast<long>(std::filesystem::file_size(file));
    const long pos = at >= 0 ? at : size + at;
    ASSERT_GE(pos, 0);
    f.seekp(pos);
    const std::string junk(std::min<size_t>(length, static_cast<size_t>(size - pos)), '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

std::vector<std::filesystem::path> files_named(const std::string& dir, std::string_view part) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().filename().string().find(part) != std::string::npos) out.push_back(e.path());
    }
    return out;
}

// Reads everything the store holds; the first error, if any.
std::optional<error> read_everything(log_store& store) {
    auto topics = store.topics();
    if (!topics) return topics.err();
    for (const stored_topic& t : *topics) {
        for (uint32_t p = 0; p < t.config.partitions; ++p) {
            auto b = store.bounds(t.id, p);
            if (!b) return b.err();
            std::vector<std::byte> buffer;
            for (uint64_t o = b->start_offset; o < b->end_offset;) {
                auto r = store.read(t.id, p, o, 1000, 1 << 20, buffer);
                if (!r) return r.err();
                if (r->count == 0) break;
                o += r->count;
            }
            for (uint64_t o = b->start_offset; o < b->end_offset; ++o) {
                auto l = store.lookup(t.id, p, o);
                if (!l) return l.err();
            }
            auto ts = store.offset_for_timestamp(t.id, p, 1004);
            if (!ts) return ts.err();
        }
    }
    return std::nullopt;
}

TEST(log_store_corruption, refuses_a_rocksdb_database_without_the_marker) {
    temp_dir dir;
    {
        raw_db raw(dir.store(), /*create=*/true);
        raw.put("default", "some", "data");
    }
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::config_error);
    EXPECT_NE(s.err().message.find("not an eventstream store"), std::string::npos)
        << s.err().message;
    EXPECT_NE(s.err().message.find(dir.store()), std::string::npos);
    // Not adopted: the key is still there and no marker was written.
    raw_db raw(dir.store());
    std::string value;
    EXPECT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), "some", &value).ok());
    EXPECT_TRUE(raw.db()
                    ->Get(rocksdb::ReadOptions(), std::string(format::format_key), &value)
                    .IsNotFound());
}

TEST(log_store_corruption, finishes_creating_an_empty_database_left_by_a_crash) {
    temp_dir dir;
    { raw_db raw(dir.store(), /*create=*/true); }
    auto store = open_store(dir.store());
    ASSERT_TRUE(store);
    EXPECT_EQ(store->next_topic_id(), 1u);
}

TEST(log_store_corruption, refuses_another_format_version) {
    temp_dir dir;
    write_store(dir.store());
    {
        raw_db raw(dir.store());
        raw.put("default", std::string(format::format_key), "eventstream-store 2");
    }
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::config_error);
    EXPECT_NE(s.err().message.find("version 2"), std::string::npos) << s.err().message;
}

TEST(log_store_corruption, corrupt_sst_files_give_an_error_not_a_crash) {
    temp_dir dir;
    write_store(dir.store());
    { raw_db(dir.store()).flush_all(); }
    const auto ssts = files_named(dir.store(), ".sst");
    ASSERT_FALSE(ssts.empty());
    for (const auto& sst : ssts) overwrite(sst, 100, 400);  // inside the first data block

    auto s = log_store::open(store_options{.path = dir.store()});
    if (!s) {
        EXPECT_EQ(s.err().code, errc::io_error);
        EXPECT_NE(s.err().message.find(dir.store()), std::string::npos) << s.err().message;
        EXPECT_NE(s.err().message.find("corrupt"), std::string::npos) << s.err().message;
        return;
    }
    const auto e = read_everything(**s);
    ASSERT_TRUE(e) << "every read succeeded on a corrupt store";
    EXPECT_EQ(e->code, errc::io_error);
}

TEST(log_store_corruption, a_corrupt_data_block_fails_the_reads_that_reach_it) {
    temp_dir dir;
    write_store(dir.store());
    { raw_db(dir.store()).flush_all(); }
    // The largest table file is the topic's; its first block holds the oldest 'd' entries,
    // which open() does not read (it scans only 'i' and 'm' keys).
    auto ssts = files_named(dir.store(), ".sst");
    ASSERT_FALSE(ssts.empty());
    const auto largest = *std::max_element(ssts.begin(), ssts.end(), [](auto& a, auto& b) {
        return std::filesystem::file_size(a) < std::filesystem::file_size(b);
    });
    overwrite(largest, 100, 64);

    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_TRUE(s) << s.err().message;
    std::vector<std::byte> buffer;
    auto r = (*s)->read(orders, 0, 0, 1000, 1 << 20, buffer);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::io_error);
    EXPECT_NE(r.err().message.find("orders/0@0"), std::string::npos) << r.err().message;
    EXPECT_NE(r.err().message.find("corrupt"), std::string::npos) << r.err().message;
    auto l = (*s)->lookup(orders, 0, 0);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.err().code, errc::io_error);
}

TEST(log_store_corruption, corrupt_sst_footers_are_refused_at_open) {
    temp_dir dir;
    write_store(dir.store());
    { raw_db(dir.store()).flush_all(); }
    for (const auto& sst : files_named(dir.store(), ".sst")) overwrite(sst, -48, 48);
    auto s = log_store::open(store_options{.path = dir.store()});
    if (s) {
        // RocksDB may open table files lazily; then the reads must fail.
        const auto e = read_everything(**s);
        ASSERT_TRUE(e) << "every read succeeded on a corrupt store";
        EXPECT_EQ(e->code, errc::io_error);
        return;
    }
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find(dir.store()), std::string::npos) << s.err().message;
}

TEST(log_store_corruption, corrupt_manifest_is_refused_at_open) {
    temp_dir dir;
    write_store(dir.store());
    const auto manifests = files_named(dir.store(), "MANIFEST-");
    ASSERT_FALSE(manifests.empty());
    for (const auto& m : manifests) overwrite(m, 0, 4096);
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find(dir.store()), std::string::npos) << s.err().message;
    // Nothing was repaired: the damaged manifest is still there, and opening again fails again.
    EXPECT_FALSE(log_store::open(store_options{.path = dir.store()}));
}

// Overwrites the value of batch 5..10 of orders/0 with `value` (and its index with `index`
// when given), through a raw handle.
void replace_batch(const std::string& path, const std::string& value,
                   std::optional<std::string> index = std::nullopt) {
    raw_db raw(path);
    const std::string cf = format::column_family_name(orders);
    raw.put(cf, format::batch_key(format::key_kind::data, 0, 5), value);
    if (index) raw.put(cf, format::batch_key(format::key_kind::index, 0, 5), *index);
}

class corrupt_record_test : public ::testing::Test {
  protected:
    void SetUp() override {
        write_store(dir_.store());
        original_ = simple_run(5, 5, 1000, std::string(200, 'x')).bytes;
    }

    // Opens the store, which must succeed (data values are not read at open), and checks that
    // reads of the damaged batch fail with io_error naming it while others work.
    void expect_detected() {
        auto store = open_store(dir_.store());
        ASSERT_TRUE(store);
        std::vector<std::byte> buffer;
        auto r = store->read(orders, 0, 6, 100, 1 << 20, buffer);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::io_error);
        EXPECT_NE(r.err().message.find("corrupt batch at orders/0@5"), std::string::npos)
            << r.err().message;
        auto l = store->lookup(orders, 0, 9);
        ASSERT_FALSE(l);
        EXPECT_EQ(l.err().code, errc::io_error);
        // The batches around it are fine.
        auto before = store->read(orders, 0, 0, 5, 1 << 20, buffer);
        ASSERT_TRUE(before);
        EXPECT_EQ(before->count, 5u);
        auto after = store->lookup(orders, 0, 10);
        ASSERT_TRUE(after && after->has_value());
    }

    temp_dir dir_;
    std::vector<std::byte> original_;
};

std::string as_string(const std::vector<std::byte>& bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST_F(corrupt_record_test, record_size_past_the_value) {
    std::string v = as_string(original_);
    core::store_le<uint32_t>(reinterpret_cast<std::byte*>(v.data()), 1u << 30);
    replace_batch(dir_.store(), v);
    expect_detected();
}

TEST_F(corrupt_record_test, record_size_below_the_header) {
    std::string v = as_string(original_);
    const size_t second = v.size() / 5;
    core::store_le<uint32_t>(reinterpret_cast<std::byte*>(v.data() + second), 8);
    replace_batch(dir_.store(), v);
    expect_detected();
}

TEST_F(corrupt_record_test, payload_larger_than_the_record) {
    std::string v = as_string(original_);
    core::store_le<uint32_t>(
        reinterpret_cast<std::byte*>(v.data() + core::record_field::payload_bytes), 100000);
    replace_batch(dir_.store(), v);
    expect_detected();
}

TEST_F(corrupt_record_test, headers_region_with_a_broken_entry) {
    // A record whose headers region claims a value longer than the region.
    std::string v = as_string(original_);
    auto* rec = reinterpret_cast<std::byte*>(v.data() + 2 * (v.size() / 5));
    // Move 8 bytes of the payload into an 8-byte headers region: u16 name 0, u32 value 100.
    const auto payload = core::load_le<uint32_t>(rec + core::record_field::payload_bytes);
    core::store_le<uint32_t>(rec + core::record_field::payload_bytes, payload - 8);
    core::store_le<uint16_t>(rec + core::record_field::headers_bytes, 8);
    std::byte* h = rec + core::record_header_bytes + payload - 8;
    core::store_le<uint16_t>(h, 0);
    core::store_le<uint32_t>(h + 2, 100);
    replace_batch(dir_.store(), v);
    expect_detected();
}

TEST_F(corrupt_record_test, wrong_offset_in_a_record) {
    std::string v = as_string(original_);
    core::store_le<uint64_t>(
        reinterpret_cast<std::byte*>(v.data() + v.size() / 5 + core::record_field::offset), 77);
    replace_batch(dir_.store(), v);
    expect_detected();
}

TEST_F(corrupt_record_test, value_shorter_than_the_index_says) {
    replace_batch(dir_.store(), as_string(original_).substr(0, 100));
    expect_detected();
}

TEST_F(corrupt_record_test, value_and_index_agree_but_records_are_cut) {
    const std::string v = as_string(original_).substr(0, 3 * original_.size() / 5 + 16);
    replace_batch(dir_.store(), v,
                  format::encode_index_value({5, static_cast<uint32_t>(v.size()), 1004}));
    expect_detected();
}

TEST_F(corrupt_record_test, a_missing_batch_is_reported) {
    {
        raw_db raw(dir_.store());
        ASSERT_TRUE(raw.db()
                        ->Delete(rocksdb::WriteOptions(),
                                 raw.cf(format::column_family_name(orders)),
                                 format::batch_key(format::key_kind::data, 0, 5))
                        .ok());
    }
    expect_detected();
}

TEST(log_store_corruption, a_gap_in_the_index_is_refused_at_open) {
    temp_dir dir;
    write_store(dir.store());
    {
        raw_db raw(dir.store());
        ASSERT_TRUE(raw.db()
                        ->Delete(rocksdb::WriteOptions(),
                                 raw.cf(format::column_family_name(orders)),
                                 format::batch_key(format::key_kind::index, 0, 10))
                        .ok());
    }
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find("orders/0"), std::string::npos) << s.err().message;
}

TEST(log_store_corruption, an_orphan_column_family_is_dropped_at_open) {
    temp_dir dir;
    write_store(dir.store());
    { raw_db(dir.store()).create_cf(format::column_family_name(9)); }
    {
        auto store = open_store(dir.store());
        ASSERT_TRUE(store);
        EXPECT_EQ(store->topics().value().size(), 1u);
        EXPECT_EQ(store->next_topic_id(), 10u);  // ids are not reused, even an orphan's
        EXPECT_EQ(store->bounds(orders, 0).value().end_offset, 30u);
    }
    raw_db raw(dir.store());
    const auto cfs = raw.column_families();
    EXPECT_EQ(std::count(cfs.begin(), cfs.end(), format::column_family_name(9)), 0);
}

TEST(log_store_corruption, metadata_without_a_column_family_is_refused) {
    temp_dir dir;
    write_store(dir.store());
    {
        raw_db raw(dir.store());
        raw.put("default", format::topic_key(5),
                R"({"id":5,"name":"ghost","partitions":1,"storage":"durable",)"
                R"("replication_factor":1,"retention_bytes":100000000,"retention_ms":0,)"
                R"("max_event_bytes":1024})");
    }
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find("ghost"), std::string::npos) << s.err().message;
}

TEST(log_store_corruption, malformed_topic_metadata_is_refused) {
    temp_dir dir;
    write_store(dir.store());
    { raw_db(dir.store()).put("default", format::topic_key(orders), R"({"id":1,"name":3})"); }
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find("topic metadata"), std::string::npos) << s.err().message;
}

}  // namespace
}  // namespace es::storage
