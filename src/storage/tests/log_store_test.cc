// log_store: create and reopen, the log (append, read, lookup, time lookups, retention), group
// offsets and topics, each against a fresh directory.
#include "storage/log_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <spawn.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "storage/tests/store_fixture.h"

namespace es::storage {
namespace {

using testing::durable_topic;
using testing::encode_run;
using testing::offsets_in;
using testing::open_store;
using testing::simple_run;
using testing::temp_dir;
using testing::test_event;

constexpr uint64_t orders = 1;

// A store with topic "orders" (id 1, two partitions).
class log_store_test : public ::testing::Test {
  protected:
    void SetUp() override {
        store_ = open_store(dir_.store());
        ASSERT_TRUE(store_);
        ASSERT_TRUE(store_->put_topic(durable_topic(orders, "orders")));
    }

    void reopen() {
        store_.reset();
        store_ = open_store(dir_.store());
        ASSERT_TRUE(store_);
    }

    void append(const testing::test_run& run, uint32_t partition = 0) {
        const append_batch b = run.to(orders, partition);
        auto s = store_->append({&b, 1}, false);
        ASSERT_TRUE(s) << s.err().message;
    }

    partition_bounds bounds(uint32_t partition = 0) {
        auto b = store_->bounds(orders, partition);
        EXPECT_TRUE(b) << b.err().message;
        return b ? *b : partition_bounds{};
    }

    std::vector<uint64_t> read_offsets(uint64_t from, uint32_t max_events = 1000,
                                       size_t max_bytes = 1 << 20, uint32_t partition = 0) {
        std::vector<std::byte> buffer;
        auto r = store_->read(orders, partition, from, max_events, max_bytes, buffer);
        EXPECT_TRUE(r) << r.err().message;
        if (!r) return {};
        EXPECT_EQ(r->bytes, buffer.size());
        auto offsets = offsets_in(buffer);
        EXPECT_EQ(r->count, offsets.size());
        return offsets;
    }

    static std::vector<uint64_t> range(uint64_t from, uint64_t to) {
        std::vector<uint64_t> v;
        for (uint64_t o = from; o < to; ++o) v.push_back(o);
        return v;
    }

    temp_dir dir_;
    std::unique_ptr<log_store> store_;
};

// Runs store_crash_writer on `path` (see there: 20 batches, a flush after the tenth, a group
// offset, then death without closing the store). Returns its exit status.
int write_then_die(const std::string& path, bool topic_wal) {
    const std::string wal = topic_wal ? "1" : "0";
    char* const argv[] = {const_cast<char*>(ES_STORE_CRASH_WRITER), const_cast<char*>(path.c_str()),
                          const_cast<char*>(wal.c_str()), nullptr};
    pid_t child = 0;
    if (::posix_spawn(&child, ES_STORE_CRASH_WRITER, nullptr, nullptr, argv, environ) != 0) {
        return -1;
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(log_store_crash, without_the_topic_wal_what_was_flushed_survives_and_nothing_after) {
    temp_dir dir;
    ASSERT_EQ(write_then_die(dir.store(), false), 0);
    auto store = log_store::open(store_options{.path = dir.store(), .topic_wal = false});
    ASSERT_TRUE(store) << store.err().message;
    // The topic's metadata went through the WAL; its events up to the flush are on disk, the
    // ten batches after it were in the memtable only, and so was the group offset.
    auto b = (*store)->bounds(orders, 0);
    ASSERT_TRUE(b) << b.err().message;
    EXPECT_EQ(b->start_offset, 0u);
    EXPECT_EQ(b->end_offset, 50u);
    auto offset = (*store)->committed_offset(orders, "billing", 0);
    ASSERT_TRUE(offset);
    EXPECT_FALSE(offset->has_value());
    // The log goes on from there (a Raft replay writes the lost batches again).
    const auto run = simple_run(50, 5);
    const append_batch again = run.to(orders, 0);
    ASSERT_TRUE((*store)->append({&again, 1}, false));
}

TEST(log_store_crash, with_the_topic_wal_every_write_survives) {
    temp_dir dir;
    ASSERT_EQ(write_then_die(dir.store(), true), 0);
    auto store = log_store::open(store_options{.path = dir.store()});
    ASSERT_TRUE(store) << store.err().message;
    auto b = (*store)->bounds(orders, 0);
    ASSERT_TRUE(b) << b.err().message;
    EXPECT_EQ(b->end_offset, 100u);
    auto offset = (*store)->committed_offset(orders, "billing", 0);
    ASSERT_TRUE(offset && offset->has_value());
    EXPECT_EQ(**offset, 100u);
}

TEST(log_store_open, creates_a_missing_directory_and_reopens_it) {
    temp_dir dir;
    const std::string path = dir / "a/b";
    {
        auto store = open_store(path);
        ASSERT_TRUE(store);
        auto topics = store->topics();
        ASSERT_TRUE(topics);
        EXPECT_TRUE(topics->empty());
        EXPECT_EQ(store->next_topic_id(), 1u);
    }
    auto store = open_store(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->next_topic_id(), 1u);
}

TEST(log_store_open, creates_in_an_empty_directory) {
    temp_dir dir;
    std::filesystem::create_directories(dir.store());
    EXPECT_TRUE(open_store(dir.store()));
}

TEST(log_store_open, without_create_if_missing_a_missing_store_is_not_found) {
    temp_dir dir;
    auto s = log_store::open(store_options{.path = dir.store(), .create_if_missing = false});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::not_found);
    EXPECT_NE(s.err().message.find(dir.store()), std::string::npos) << s.err().message;
    EXPECT_FALSE(std::filesystem::exists(dir.store()));
}

TEST(log_store_open, refuses_a_directory_holding_other_files) {
    temp_dir dir;
    std::filesystem::create_directories(dir.store());
    const auto file = std::filesystem::path(dir.store()) / "notes.txt";
    std::ofstream(file) << "not a database";
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::config_error);
    EXPECT_NE(s.err().message.find(dir.store()), std::string::npos) << s.err().message;
    EXPECT_NE(s.err().message.find("not an eventstream store"), std::string::npos);
    // Nothing was touched.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.store()),
                            std::filesystem::directory_iterator()),
              1);
}

TEST(log_store_open, refuses_a_path_that_is_a_file) {
    temp_dir dir;
    std::ofstream(dir.store()) << "x";
    auto s = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::config_error);
}

TEST(log_store_open, a_store_open_twice_is_refused) {
    temp_dir dir;
    auto first = open_store(dir.store());
    ASSERT_TRUE(first);
    auto second = log_store::open(store_options{.path = dir.store()});
    ASSERT_FALSE(second);
    EXPECT_EQ(second.err().code, errc::io_error);
    EXPECT_NE(second.err().message.find(dir.store()), std::string::npos) << second.err().message;
}

// The test's own check, apart from the store's: whether a file in `dir` takes an aligned
// O_DIRECT write.
bool takes_direct_writes(const std::string& dir) {
    const std::string path = dir + "/direct-check";
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
    ::unlink(path.c_str());
    if (fd < 0) return false;
    void* block = nullptr;
    bool ok = ::posix_memalign(&block, 4096, 4096) == 0;
    if (ok) {
        std::memset(block, 0, 4096);
        ok = ::pwrite(fd, block, 4096, 0) == 4096;
    }
    std::free(block);
    ::close(fd);
    return ok;
}

// What RocksDB wrote in the store's newest OPTIONS file for `option`, e.g. "true".
std::string rocksdb_option(const std::string& dir, const std::string& option) {
    std::string newest;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.starts_with("OPTIONS-") && name > newest) newest = name;
    }
    std::ifstream in(dir + "/" + newest);
    std::string line;
    while (std::getline(in, line)) {
        const auto at = line.find(option + "=");
        if (at != std::string::npos) return line.substr(at + option.size() + 1);
    }
    return "";
}

// Without the topic WAL (as in a cluster), only flushed writes are on disk: a store asked for
// direct flushes, flushed, closed and opened again in `dir` must give back every event,
// whichever way its flushes wrote. Its choice must match the file system's (checked apart)
// and be what RocksDB was told. Returns whether its flushes used O_DIRECT.
bool flushed_events_come_back(const std::string& dir) {
    bool direct = false;
    {
        auto store =
            log_store::open(store_options{.path = dir, .topic_wal = false, .direct_flush = true});
        EXPECT_TRUE(store) << store.err().message;
        if (!store) return false;
        direct = (*store)->direct_flush();
        EXPECT_EQ(direct, takes_direct_writes(dir));
        EXPECT_EQ(rocksdb_option(dir, "use_direct_io_for_flush_and_compaction"),
                  direct ? "true" : "false");
        EXPECT_TRUE((*store)->put_topic(durable_topic(orders, "orders")));
        // Batches of 64 KiB payloads (blob files) and small ones (in the tables).
        for (uint64_t offset = 0; offset < 40; offset += 2) {
            const auto run = offset % 4 == 0 ? simple_run(offset, 2, 1000, std::string(65536, 'x'))
                                             : simple_run(offset, 2);
            const append_batch b = run.to(orders, 0);
            EXPECT_TRUE((*store)->append({&b, 1}, false));
        }
        EXPECT_TRUE((*store)->flush(orders));
    }
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir) / ".direct-io-probe"));
    auto store = log_store::open(store_options{.path = dir, .topic_wal = false});
    EXPECT_TRUE(store) << store.err().message;
    if (!store) return direct;
    std::vector<std::byte> buffer;
    uint64_t next = 0;
    for (int reads = 0; next < 40 && reads < 40; ++reads) {
        auto r = (*store)->read(orders, 0, next, 1000, 1 << 20, buffer);
        EXPECT_TRUE(r) << r.err().message;
        if (!r || r->count == 0) break;
        for (uint64_t offset : offsets_in(buffer)) EXPECT_EQ(offset, next++);
        const auto first = core::event_view::of(buffer.data());
        EXPECT_TRUE(first.payload.ends_with(std::to_string(first.offset))) << first.offset;
    }
    EXPECT_EQ(next, 40u);
    return direct;
}

TEST(log_store_open, flushes_write_past_the_page_cache_where_the_file_system_allows_it) {
    temp_dir dir;
    const bool direct = flushed_events_come_back(dir.store());
    std::cout << "flushes in " << dir.store() << (direct ? " bypass" : " go through")
              << " the page cache\n";
    // Not asked for (the default, and a single node's store): never.
    auto off = log_store::open(store_options{.path = dir / "off"});
    ASSERT_TRUE(off) << off.err().message;
    EXPECT_FALSE((*off)->direct_flush());
    EXPECT_EQ(rocksdb_option(dir / "off", "use_direct_io_for_flush_and_compaction"), "false");
}

TEST(log_store_open, on_tmpfs_flushed_events_come_back) {
    // tmpfs refused O_DIRECT before Linux 6.6: there RocksDB's flushes would fail if the store
    // asked for it regardless, so the store checks first. Newer kernels take it.
    struct statfs fs {};
    if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
        GTEST_SKIP() << "no tmpfs at /dev/shm on this machine";
    }
    std::string pattern = "/dev/shm/es-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) GTEST_SKIP() << "/dev/shm is not writable here";
    struct removed_at_end {
        std::string path;
        ~removed_at_end() {
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
        }
    } shm{pattern};
    const bool direct = flushed_events_come_back(pattern + "/store");
    std::cout << "flushes on tmpfs" << (direct ? " bypass" : " go through") << " the page cache\n";
}

TEST_F(log_store_test, append_and_read_across_batches) {
    append(simple_run(0, 3));
    append(simple_run(3, 4));
    append(simple_run(7, 1));
    EXPECT_EQ(bounds().start_offset, 0u);
    EXPECT_EQ(bounds().end_offset, 8u);

    EXPECT_EQ(read_offsets(0), range(0, 8));
    EXPECT_EQ(read_offsets(2), range(2, 8));  // from inside the first batch
    EXPECT_EQ(read_offsets(5, 2), range(5, 7));
    EXPECT_EQ(read_offsets(8), range(0, 0));   // at the end
    EXPECT_EQ(read_offsets(50), range(0, 0));  // past the end
    EXPECT_EQ(read_offsets(0, 0), range(0, 0));
    // max_bytes: whole records only, but at least one.
    EXPECT_EQ(read_offsets(1, 100, 1), range(1, 2));
    const size_t one = simple_run(0, 1).bytes.size();
    EXPECT_EQ(read_offsets(1, 100, 3 * one), range(1, 4));

    // The bytes are the records as appended.
    std::vector<std::byte> buffer;
    auto r = store_->read(orders, 0, 3, 4, 1 << 20, buffer);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->start_offset, 0u);
    EXPECT_EQ(r->end_offset, 8u);
    EXPECT_EQ(buffer, simple_run(3, 4).bytes);

    // The other partition is untouched.
    EXPECT_EQ(bounds(1).end_offset, 0u);
    EXPECT_EQ(read_offsets(0, 10, 1000, 1), range(0, 0));
}

TEST_F(log_store_test, keys_payloads_and_headers_come_back) {
    test_event e;
    e.key = "user-1";
    e.has_key = true;
    e.payload = std::string(1000, 'p');
    e.timestamp_ns = 123;
    e.headers = {{"trace", "abc"}, {"empty", ""}};
    test_event unkeyed;
    unkeyed.payload = "";
    unkeyed.timestamp_ns = 124;
    append(encode_run(0, {e, unkeyed}));

    auto got = store_->lookup(orders, 0, 0);
    ASSERT_TRUE(got) << got.err().message;
    ASSERT_TRUE(got->has_value());
    const core::event_record& r = **got;
    EXPECT_EQ(r.partition, 0u);
    EXPECT_EQ(r.offset, 0u);
    EXPECT_EQ(r.timestamp_ns, 123);
    EXPECT_EQ(r.key, std::optional<std::string>("user-1"));
    EXPECT_EQ(r.payload, e.payload);
    EXPECT_EQ(r.headers, e.headers);

    auto second = store_->lookup(orders, 0, 1);
    ASSERT_TRUE(second && second->has_value());
    EXPECT_FALSE((*second)->key);
    EXPECT_EQ((*second)->payload, "");
}

TEST_F(log_store_test, reappending_stored_batches_is_skipped) {
    append(simple_run(0, 3));
    append(simple_run(3, 3));
    const partition_bounds before = bounds();
    append(simple_run(0, 3));  // a state machine applying a batch twice
    append(simple_run(3, 3));
    append(simple_run(2, 1));  // inside a stored batch, ending below the end
    EXPECT_EQ(bounds().end_offset, before.end_offset);
    EXPECT_EQ(bounds().stored_bytes, before.stored_bytes);
    EXPECT_EQ(read_offsets(0), range(0, 6));

    // A stored batch and a new one in one call: only the new one is written.
    const auto old_run = simple_run(3, 3);
    const auto new_run = simple_run(6, 2);
    const append_batch both[] = {old_run.to(orders, 0), new_run.to(orders, 0)};
    ASSERT_TRUE(store_->append(both, true));
    EXPECT_EQ(read_offsets(0), range(0, 8));
}

TEST_F(log_store_test, several_batches_of_several_partitions_in_one_call) {
    const auto a = simple_run(0, 2);
    const auto b = simple_run(2, 2);
    const auto c = simple_run(0, 5);
    const append_batch batches[] = {a.to(orders, 0), c.to(orders, 1), b.to(orders, 0)};
    ASSERT_TRUE(store_->append(batches, true));
    EXPECT_EQ(bounds(0).end_offset, 4u);
    EXPECT_EQ(bounds(1).end_offset, 5u);
    reopen();
    EXPECT_EQ(bounds(0).end_offset, 4u);
    EXPECT_EQ(read_offsets(0, 100, 1 << 20, 1), range(0, 5));
}

TEST_F(log_store_test, holes_and_partial_overlaps_are_refused_and_write_nothing) {
    append(simple_run(0, 4));
    const partition_bounds before = bounds();

    const auto hole = simple_run(5, 2);
    const append_batch h = hole.to(orders, 0);
    auto s = store_->append({&h, 1}, false);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::invalid_argument);
    EXPECT_NE(s.err().message.find("would leave a hole"), std::string::npos) << s.err().message;

    const auto overlap = simple_run(3, 3);
    const append_batch o = overlap.to(orders, 0);
    s = store_->append({&o, 1}, false);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::invalid_argument);
    EXPECT_NE(s.err().message.find("overlaps"), std::string::npos) << s.err().message;

    // A good batch of another partition in the same call as a bad one is not written either.
    const auto good = simple_run(0, 2);
    const append_batch mixed[] = {good.to(orders, 1), h};
    ASSERT_FALSE(store_->append(mixed, false));
    EXPECT_EQ(bounds(1).end_offset, 0u);

    // Nor is the second half of a hole made by two batches of one call.
    const auto next = simple_run(4, 1);
    const auto gap = simple_run(6, 1);
    const append_batch two[] = {next.to(orders, 0), gap.to(orders, 0)};
    ASSERT_FALSE(store_->append(two, false));

    EXPECT_EQ(bounds().end_offset, before.end_offset);
    reopen();
    EXPECT_EQ(bounds().end_offset, before.end_offset);
    EXPECT_EQ(bounds(1).end_offset, 0u);
}

TEST_F(log_store_test, unknown_topics_and_partitions_are_not_found) {
    const auto run = simple_run(0, 1);
    const append_batch bad_topic = run.to(99, 0);
    const append_batch bad_partition = run.to(orders, 2);
    EXPECT_EQ(store_->append({&bad_topic, 1}, false).err().code, errc::not_found);
    EXPECT_EQ(store_->append({&bad_partition, 1}, false).err().code, errc::not_found);
    std::vector<std::byte> buffer;
    EXPECT_EQ(store_->read(99, 0, 0, 1, 1, buffer).err().code, errc::not_found);
    EXPECT_EQ(store_->read(orders, 7, 0, 1, 1, buffer).err().code, errc::not_found);
    EXPECT_EQ(store_->bounds(orders, 2).err().code, errc::not_found);
    EXPECT_EQ(store_->lookup(orders, 2, 0).err().code, errc::not_found);
    EXPECT_EQ(store_->offset_for_timestamp(99, 0, 0).err().code, errc::not_found);
    EXPECT_EQ(store_->apply_retention(orders, 3, 0, 0).err().code, errc::not_found);
    EXPECT_EQ(store_->commit_offset(orders, "g", 2, 0, false).err().code, errc::not_found);
    EXPECT_EQ(store_->committed_offset(99, "g", 0).err().code, errc::not_found);
    EXPECT_NE(store_->bounds(orders, 2).err().message.find("orders"), std::string::npos);
}

TEST_F(log_store_test, bounds_survive_reopen) {
    append(simple_run(0, 3));
    append(simple_run(3, 2));
    append(simple_run(0, 1), 1);
    const partition_bounds b0 = bounds(0);
    EXPECT_EQ(b0.end_offset, 5u);
    EXPECT_EQ(b0.stored_bytes, simple_run(0, 3).bytes.size() + simple_run(3, 2).bytes.size());
    reopen();
    EXPECT_EQ(bounds(0).start_offset, 0u);
    EXPECT_EQ(bounds(0).end_offset, 5u);
    EXPECT_EQ(bounds(0).stored_bytes, b0.stored_bytes);
    EXPECT_EQ(bounds(1).end_offset, 1u);
    EXPECT_EQ(read_offsets(0), range(0, 5));
    append(simple_run(5, 1));  // appends go on where they left off
    EXPECT_EQ(bounds().end_offset, 6u);
}

TEST_F(log_store_test, lookup_present_absent_and_after_retention) {
    append(simple_run(0, 3, 1000, "a-"));
    append(simple_run(3, 3, 2000, "b-"));
    auto got = store_->lookup(orders, 0, 4);
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->payload, "b-4");
    EXPECT_EQ((*got)->timestamp_ns, 2001);
    EXPECT_FALSE((*got)->key);

    auto past = store_->lookup(orders, 0, 6);
    ASSERT_TRUE(past);
    EXPECT_FALSE(past->has_value());
    auto other = store_->lookup(orders, 1, 0);
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->has_value());

    ASSERT_TRUE(store_->apply_retention(orders, 0, UINT64_MAX, 1500));  // the first batch is old
    auto gone = store_->lookup(orders, 0, 2);
    ASSERT_TRUE(gone);
    EXPECT_FALSE(gone->has_value());
    auto kept = store_->lookup(orders, 0, 3);
    ASSERT_TRUE(kept && kept->has_value());
    EXPECT_EQ((*kept)->payload, "b-3");
}

TEST_F(log_store_test, offset_for_timestamp_finds_the_first_event_at_or_after) {
    // Timestamps need not grow with offsets: 10, 30, 20 | 40, 15 | 50.
    std::vector<test_event> first(3), second(2), third(1);
    first[0].timestamp_ns = 10;
    first[1].timestamp_ns = 30;
    first[2].timestamp_ns = 20;
    second[0].timestamp_ns = 40;
    second[1].timestamp_ns = 15;
    third[0].timestamp_ns = 50;
    append(encode_run(0, first));
    append(encode_run(3, second));
    append(encode_run(5, third));
    auto at = [&](int64_t ts) {
        auto r = store_->offset_for_timestamp(orders, 0, ts);
        EXPECT_TRUE(r) << r.err().message;
        return r ? *r : UINT64_MAX;
    };
    EXPECT_EQ(at(0), 0u);
    EXPECT_EQ(at(10), 0u);
    EXPECT_EQ(at(11), 1u);
    EXPECT_EQ(at(30), 1u);
    EXPECT_EQ(at(31), 3u);
    EXPECT_EQ(at(41), 5u);
    EXPECT_EQ(at(51), 6u);  // none: the end
    EXPECT_EQ(store_->offset_for_timestamp(orders, 1, 0).value(), 0u);

    ASSERT_TRUE(store_->apply_retention(orders, 0, UINT64_MAX, 31));  // drops the first batch
    EXPECT_EQ(at(0), 3u);
    reopen();
    EXPECT_EQ(at(0), 3u);
    EXPECT_EQ(at(16), 3u);
    EXPECT_EQ(at(45), 5u);
}

TEST_F(log_store_test, retention_by_bytes_drops_whole_batches_and_keeps_offsets) {
    for (uint64_t base = 0; base < 20; base += 4) append(simple_run(base, 4));
    const uint64_t batch = simple_run(0, 4).bytes.size();
    ASSERT_EQ(bounds().stored_bytes, 5 * batch);

    auto b = store_->apply_retention(orders, 0, 2 * batch + 1, 0);
    ASSERT_TRUE(b) << b.err().message;
    EXPECT_EQ(b->start_offset, 12u);
    EXPECT_EQ(b->end_offset, 20u);
    EXPECT_EQ(b->stored_bytes, 2 * batch);
    EXPECT_EQ(read_offsets(0), range(12, 20));  // below the start: read from the start

    std::vector<std::byte> buffer;
    auto r = store_->read(orders, 0, 3, 10, 1 << 20, buffer);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->start_offset, 12u);

    // Never the newest batch, even when it alone is over the limit.
    b = store_->apply_retention(orders, 0, 0, 0);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->start_offset, 16u);
    EXPECT_EQ(b->end_offset, 20u);

    reopen();
    EXPECT_EQ(bounds().start_offset, 16u);
    EXPECT_EQ(bounds().end_offset, 20u);
    EXPECT_EQ(bounds().stored_bytes, batch);
    EXPECT_EQ(read_offsets(0), range(16, 20));
    append(simple_run(20, 1));
    EXPECT_EQ(read_offsets(0), range(16, 21));
}

TEST_F(log_store_test, retention_by_age_can_empty_a_partition_which_keeps_its_offsets) {
    append(simple_run(0, 3, 100));
    append(simple_run(3, 3, 200));
    append(simple_run(6, 3, 300));

    auto b = store_->apply_retention(orders, 0, UINT64_MAX, 250);  // drops 0..6
    ASSERT_TRUE(b);
    EXPECT_EQ(b->start_offset, 6u);
    b = store_->apply_retention(orders, 0, UINT64_MAX, 1000);  // drops everything
    ASSERT_TRUE(b);
    EXPECT_EQ(b->start_offset, 9u);
    EXPECT_EQ(b->end_offset, 9u);
    EXPECT_EQ(b->stored_bytes, 0u);
    EXPECT_EQ(read_offsets(0), range(0, 0));
    EXPECT_EQ(store_->offset_for_timestamp(orders, 0, 0).value(), 9u);

    reopen();
    EXPECT_EQ(bounds().start_offset, 9u);
    EXPECT_EQ(bounds().end_offset, 9u);
    EXPECT_EQ(bounds().stored_bytes, 0u);
    // The log goes on from its end; old batches are skipped, holes refused.
    append(simple_run(6, 3));
    EXPECT_EQ(bounds().end_offset, 9u);
    const auto hole = simple_run(10, 1);
    const append_batch h = hole.to(orders, 0);
    EXPECT_FALSE(store_->append({&h, 1}, false));
    append(simple_run(9, 2, 400));
    EXPECT_EQ(read_offsets(0), range(9, 11));
    reopen();
    EXPECT_EQ(bounds().start_offset, 9u);
    EXPECT_EQ(bounds().end_offset, 11u);
}

TEST_F(log_store_test, skip_to_drops_everything_and_goes_on_from_the_new_offset) {
    append(simple_run(0, 3, 100));
    append(simple_run(3, 3, 200));
    // Not backwards, nor into what it holds.
    EXPECT_EQ(store_->skip_to(orders, 0, 5).err().code, errc::invalid_argument);
    EXPECT_EQ(store_->skip_to(orders, 7, 50).err().code, errc::not_found);
    EXPECT_EQ(bounds().end_offset, 6u);

    ASSERT_TRUE(store_->skip_to(orders, 0, 40));
    EXPECT_EQ(bounds().start_offset, 40u);
    EXPECT_EQ(bounds().end_offset, 40u);
    EXPECT_EQ(bounds().stored_bytes, 0u);
    EXPECT_EQ(read_offsets(0), range(0, 0));
    EXPECT_FALSE(store_->lookup(orders, 0, 4).value());
    // The other partitions are untouched; this one goes on from 40.
    append(simple_run(0, 2), 1);
    const auto hole = simple_run(41, 1);
    const append_batch h = hole.to(orders, 0);
    EXPECT_FALSE(store_->append({&h, 1}, false));
    append(simple_run(40, 2, 300));
    EXPECT_EQ(read_offsets(0), range(40, 42));
    ASSERT_TRUE(store_->flush(orders));
    reopen();
    EXPECT_EQ(bounds().start_offset, 40u);
    EXPECT_EQ(bounds().end_offset, 42u);
    EXPECT_EQ(read_offsets(0, 1000, 1 << 20, 1), range(0, 2));
    EXPECT_EQ(read_offsets(0), range(40, 42));
    // To its own end: it keeps its offsets and holds nothing; once more, nothing changes.
    ASSERT_TRUE(store_->skip_to(orders, 1, 2));
    EXPECT_EQ(bounds(1).start_offset, 2u);
    EXPECT_EQ(bounds(1).end_offset, 2u);
    EXPECT_EQ(read_offsets(0, 1000, 1 << 20, 1), range(0, 0));
    ASSERT_TRUE(store_->skip_to(orders, 1, 2));
    EXPECT_EQ(bounds(1).start_offset, 2u);
}

TEST_F(log_store_test, retention_with_nothing_to_drop_changes_nothing) {
    append(simple_run(0, 3, 500));
    auto b = store_->apply_retention(orders, 0, UINT64_MAX, 100);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->start_offset, 0u);
    EXPECT_EQ(b->end_offset, 3u);
    b = store_->apply_retention(orders, 1, 0, 1000);  // empty partition
    ASSERT_TRUE(b);
    EXPECT_EQ(b->end_offset, 0u);
}

TEST_F(log_store_test, group_offsets_commit_fetch_and_reopen) {
    auto none = store_->committed_offset(orders, "billing", 0);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());

    ASSERT_TRUE(store_->commit_offset(orders, "billing", 0, 42, true));
    ASSERT_TRUE(store_->commit_offset(orders, "billing", 1, 7, false));
    ASSERT_TRUE(store_->commit_offset(orders, "audit.v2", 0, 3, false));
    ASSERT_TRUE(store_->commit_offset(orders, "billing", 0, 43, false));  // overwrites
    ASSERT_TRUE(store_->sync());
    reopen();
    EXPECT_EQ(store_->committed_offset(orders, "billing", 0).value(), std::optional<uint64_t>(43));
    EXPECT_EQ(store_->committed_offset(orders, "billing", 1).value(), std::optional<uint64_t>(7));
    EXPECT_EQ(store_->committed_offset(orders, "audit.v2", 0).value(), std::optional<uint64_t>(3));
    EXPECT_FALSE(store_->committed_offset(orders, "audit.v2", 1).value().has_value());
    // A group whose name extends another's is another group.
    EXPECT_FALSE(store_->committed_offset(orders, "billing2", 0).value().has_value());
}

TEST_F(log_store_test, invalid_group_names_are_refused) {
    for (std::string_view group :
         {std::string_view(), std::string_view("a b"), std::string_view("x/y")}) {
        auto s = store_->commit_offset(orders, group, 0, 1, false);
        ASSERT_FALSE(s);
        EXPECT_EQ(s.err().code, errc::invalid_argument);
        EXPECT_EQ(store_->committed_offset(orders, group, 0).err().code, errc::invalid_argument);
    }
    const std::string long_name(core::max_group_name_bytes + 1, 'g');
    EXPECT_EQ(store_->commit_offset(orders, long_name, 0, 1, false).err().code,
              errc::invalid_argument);
}

TEST_F(log_store_test, topics_put_list_drop_and_reopen) {
    stored_topic payments = durable_topic(4, "payments", 3);
    payments.config.retention_ms = 60000;
    payments.config.replication_factor = 3;
    payments.config.retention_bytes = 1ull << 30;
    payments.config.max_event_bytes = 4096;
    ASSERT_TRUE(store_->put_topic(payments));
    EXPECT_EQ(store_->next_topic_id(), 5u);

    auto again = store_->put_topic(durable_topic(4, "other"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.err().code, errc::already_exists);
    EXPECT_EQ(store_->put_topic(durable_topic(0, "zero")).err().code, errc::invalid_argument);
    stored_topic bad = durable_topic(9, "bad name!");
    EXPECT_EQ(store_->put_topic(bad).err().code, errc::invalid_argument);

    reopen();
    auto topics = store_->topics();
    ASSERT_TRUE(topics);
    ASSERT_EQ(topics->size(), 2u);
    EXPECT_EQ((*topics)[0].id, orders);
    EXPECT_EQ((*topics)[0].config.name, "orders");
    const stored_topic& p = (*topics)[1];
    EXPECT_EQ(p.id, 4u);
    EXPECT_EQ(p.config.name, "payments");
    EXPECT_EQ(p.config.partitions, 3u);
    EXPECT_EQ(p.config.storage, core::storage_mode::durable);
    EXPECT_EQ(p.config.replication_factor, 3u);
    EXPECT_EQ(p.config.retention_bytes, 1ull << 30);
    EXPECT_EQ(p.config.retention_ms, 60000u);
    EXPECT_EQ(p.config.max_event_bytes, 4096u);
    EXPECT_EQ(store_->bounds(4, 2).value().end_offset, 0u);

    ASSERT_TRUE(store_->drop_topic(4));
    EXPECT_EQ(store_->drop_topic(4).err().code, errc::not_found);
    EXPECT_EQ(store_->topics().value().size(), 1u);
    reopen();
    EXPECT_EQ(store_->topics().value().size(), 1u);
    EXPECT_EQ(store_->bounds(4, 0).err().code, errc::not_found);
}

TEST_F(log_store_test, drop_topic_removes_its_data_and_offsets) {
    append(simple_run(0, 5));
    ASSERT_TRUE(store_->commit_offset(orders, "g", 0, 5, false));
    ASSERT_TRUE(store_->drop_topic(orders));
    EXPECT_EQ(store_->bounds(orders, 0).err().code, errc::not_found);
    const auto run = simple_run(5, 1);
    const append_batch b = run.to(orders, 0);
    EXPECT_EQ(store_->append({&b, 1}, false).err().code, errc::not_found);

    // The same id may be put again (the engine never does); it starts empty.
    ASSERT_TRUE(store_->put_topic(durable_topic(orders, "orders")));
    EXPECT_EQ(bounds().end_offset, 0u);
    EXPECT_FALSE(store_->committed_offset(orders, "g", 0).value().has_value());
    reopen();
    EXPECT_EQ(bounds().end_offset, 0u);
    EXPECT_EQ(read_offsets(0), range(0, 0));
}

TEST_F(log_store_test, next_topic_id_never_goes_back) {
    EXPECT_EQ(store_->next_topic_id(), 2u);
    ASSERT_TRUE(store_->put_topic(durable_topic(7, "seven")));
    EXPECT_EQ(store_->next_topic_id(), 8u);
    ASSERT_TRUE(store_->put_topic(durable_topic(3, "three")));  // a lower id keeps the next
    EXPECT_EQ(store_->next_topic_id(), 8u);
    ASSERT_TRUE(store_->drop_topic(7));
    EXPECT_EQ(store_->next_topic_id(), 8u);
    reopen();
    EXPECT_EQ(store_->next_topic_id(), 8u);
}

TEST_F(log_store_test, readers_run_beside_a_writer_and_retention) {
    std::atomic<bool> done{false};
    std::atomic<int> failures{0};
    auto reader = [&] {
        std::vector<std::byte> buffer;
        while (!done.load()) {
            auto b = store_->bounds(orders, 0);
            if (!b) {
                ++failures;
                continue;
            }
            auto r = store_->read(orders, 0, b->start_offset, 50, 4096, buffer);
            if (!r) {
                ++failures;
                continue;
            }
            // Whole records with consecutive offsets from max(from, start).
            const auto offsets = offsets_in(buffer);
            for (size_t i = 0; i < offsets.size(); ++i) {
                if (offsets[i] != std::max(b->start_offset, r->start_offset) + i) ++failures;
            }
            auto l = store_->lookup(orders, 0, b->end_offset > 0 ? b->end_offset - 1 : 0);
            if (!l) ++failures;
        }
    };
    std::thread r1(reader), r2(reader);
    uint64_t end = 0;
    for (int i = 0; i < 300; ++i) {
        const auto run = simple_run(end, 1 + i % 5, 1000 + i);
        const append_batch b = run.to(orders, 0);
        ASSERT_TRUE(store_->append({&b, 1}, false));
        end += run.count;
        if (i % 10 == 0) {
            ASSERT_TRUE(store_->apply_retention(orders, 0, 2000, 0));
        }
        if (i % 25 == 0) {
            ASSERT_TRUE(store_->commit_offset(orders, "g", 0, end, false));
        }
    }
    done = true;
    r1.join();
    r2.join();
    EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace es::storage
