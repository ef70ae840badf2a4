// raft_log_store: entries, segments, truncation, snapshots and the vote survive a reopen; torn
// and damaged files; random operations against a std::map model.
#include "replication/raft_log_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../../common/tests/temp_dir.h"
#include "replication/raft_log_format.h"

namespace es::replication {
namespace {

namespace fs = std::filesystem;

struct stored_entry {
    uint64_t term = 0;
    uint8_t type = 0;
    std::string data;
    bool operator==(const stored_entry&) const = default;
};

std::unique_ptr<raft_log_store> open_ok(const std::string& dir, uint64_t segment_bytes = 1 << 20) {
    auto store = raft_log_store::open(dir, segment_bytes);
    EXPECT_TRUE(store) << (store ? "" : store.err().message);
    return store ? std::move(store.value()) : nullptr;
}

std::map<uint64_t, stored_entry> read_all(const raft_log_store& store) {
    std::map<uint64_t, stored_entry> out;
    status s = store.for_each_entry(
        [&](uint64_t index, uint64_t term, uint8_t type, std::span<const std::byte> data) {
            out[index] = {term, type,
                          std::string(reinterpret_cast<const char*>(data.data()), data.size())};
        });
    EXPECT_TRUE(s) << (s ? "" : s.err().message);
    return out;
}

status append(raft_log_store& store, const std::vector<stored_entry>& entries) {
    std::vector<raft_log_entry> views;
    for (const auto& e : entries) {
        views.push_back(
            {e.term, e.type, {reinterpret_cast<const std::byte*>(e.data.data()), e.data.size()}});
    }
    return store.append(views);
}

std::vector<std::string> files_with(const std::string& dir, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& f : fs::directory_iterator(dir)) {
        const std::string name = f.path().filename().string();
        if (name.starts_with(prefix)) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

raft_snapshot_record snapshot_at(uint64_t index, uint64_t term, std::string data) {
    raft_snapshot_record s;
    s.index = index;
    s.term = term;
    s.configuration_index = 1;
    s.configuration = {{1, 1, "127.0.0.1:7071"}, {2, 1, "127.0.0.1:7072"}, {3, 2, "[::1]:7073"}};
    s.data.assign(reinterpret_cast<const std::byte*>(data.data()),
                  reinterpret_cast<const std::byte*>(data.data()) + data.size());
    return s;
}

TEST(raft_log_store, a_new_log_is_empty_and_entries_come_back_after_a_reopen) {
    testing::temp_dir dir;
    EXPECT_TRUE(raft_log_store::is_new(dir.path()));
    {
        auto store = open_ok(dir.path());
        ASSERT_TRUE(store);
        EXPECT_EQ(store->first_index(), 1u);
        EXPECT_EQ(store->next_index(), 1u);
        EXPECT_FALSE(store->snapshot());
        ASSERT_TRUE(append(*store, {{1, 3, "config"}, {1, 1, "a"}, {2, 1, ""}}));
        ASSERT_TRUE(store->sync());
        EXPECT_EQ(store->next_index(), 4u);
    }
    EXPECT_FALSE(raft_log_store::is_new(dir.path()));
    auto store = open_ok(dir.path());
    ASSERT_TRUE(store);
    EXPECT_EQ(store->first_index(), 1u);
    EXPECT_EQ(store->next_index(), 4u);
    const std::map<uint64_t, stored_entry> want{
        {1, {1, 3, "config"}}, {2, {1, 1, "a"}}, {3, {2, 1, ""}}};
    EXPECT_EQ(read_all(*store), want);
}

TEST(raft_log_store, full_segments_roll_over_and_truncation_crosses_them) {
    testing::temp_dir dir;
    const std::string big(300, 'x');
    {
        auto store = open_ok(dir.path(), 1000);
        ASSERT_TRUE(store);
        // 332 bytes a record: three fit in a 1000-byte segment (the third one crosses it).
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(*store, {{1, 1, big + std::to_string(i)}}));
        ASSERT_TRUE(store->sync());
        EXPECT_EQ(files_with(dir.path(), "raft-log-").size(), 4u);
        // An append of several entries also splits across segments.
        ASSERT_TRUE(append(*store, {{2, 1, big}, {2, 1, big}, {2, 1, big}, {2, 1, big}}));
        ASSERT_TRUE(store->sync());
        EXPECT_EQ(store->next_index(), 15u);
        // Back to entry 5: the segments from 7 on go, the one holding 4..6 is cut.
        ASSERT_TRUE(store->truncate(5));
        ASSERT_TRUE(store->sync());
        EXPECT_EQ(store->next_index(), 5u);
        ASSERT_TRUE(append(*store, {{3, 1, "after"}}));
        ASSERT_TRUE(store->sync());
    }
    auto store = open_ok(dir.path(), 1000);
    ASSERT_TRUE(store);
    auto all = read_all(*store);
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[4].data, big + "3");
    EXPECT_EQ(all[5], (stored_entry{3, 1, "after"}));
    EXPECT_EQ(files_with(dir.path(), "raft-log-"),
              (std::vector<std::string>{"raft-log-00000000000000000001",
                                        "raft-log-00000000000000000004"}));
    // Truncating to the first index of a segment removes it whole.
    ASSERT_TRUE(store->truncate(4));
    ASSERT_TRUE(store->sync());
    EXPECT_EQ(files_with(dir.path(), "raft-log-").size(), 1u);
    EXPECT_EQ(store->next_index(), 4u);
}

TEST(raft_log_store, a_torn_last_record_is_cut_off_and_the_log_goes_on_after_it) {
    testing::temp_dir dir;
    {
        auto store = open_ok(dir.path());
        ASSERT_TRUE(store);
        ASSERT_TRUE(append(*store, {{1, 1, "one"}, {1, 1, "two"}}));
        ASSERT_TRUE(store->sync());
    }
    const fs::path segment = fs::path(dir.path()) / "raft-log-00000000000000000001";
    const auto whole = fs::file_size(segment);
    // Half a record header, then a whole record whose data was not all written.
    for (const std::string& tail : {std::string(10, '\x07'), std::string(40, '\0')}) {
        {
            std::ofstream f(segment, std::ios::binary | std::ios::app);
            f << tail;
        }
        auto store = open_ok(dir.path());
        ASSERT_TRUE(store);
        EXPECT_EQ(fs::file_size(segment), whole);
        EXPECT_EQ(store->next_index(), 3u);
    }
    {
        auto store = open_ok(dir.path());
        ASSERT_TRUE(append(*store, {{1, 1, "three"}}));
        ASSERT_TRUE(store->sync());
    }
    auto store = open_ok(dir.path());
    EXPECT_EQ(read_all(*store).at(3).data, "three");
}

TEST(raft_log_store, a_changed_byte_in_an_older_segment_is_refused_with_the_file_named) {
    testing::temp_dir dir;
    {
        auto store = open_ok(dir.path(), 100);
        ASSERT_TRUE(store);
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*store, {{1, 1, std::string(100, 'a')}}));
        ASSERT_TRUE(store->sync());
    }
    const fs::path first = fs::path(dir.path()) / "raft-log-00000000000000000001";
    {
        std::fstream f(first, std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(60);
        f.put('b');
    }
    auto store = raft_log_store::open(dir.path(), 100);
    ASSERT_FALSE(store);
    EXPECT_NE(store.err().message.find(first.string()), std::string::npos) << store.err().message;
    EXPECT_NE(store.err().message.find("damaged"), std::string::npos);
}

TEST(raft_log_store, a_snapshot_with_trailing_entries_drops_only_whole_older_segments) {
    testing::temp_dir dir;
    {
        auto store = open_ok(dir.path(), 100);
        ASSERT_TRUE(store);
        for (int i = 1; i <= 10; ++i) {
            ASSERT_TRUE(append(*store, {{1, 1, std::string(100, char('a' + i))}}));
        }
        ASSERT_TRUE(store->sync());
        ASSERT_EQ(files_with(dir.path(), "raft-log-").size(), 10u);
        // Entries 6.. stay: 8 - 3 = 5 is the last one that may go.
        ASSERT_TRUE(store->put_snapshot(snapshot_at(8, 1, "state at 8"), 3));
        EXPECT_EQ(store->first_index(), 6u);
        EXPECT_EQ(files_with(dir.path(), "raft-log-").size(), 5u);
        ASSERT_TRUE(store->put_snapshot(snapshot_at(9, 1, "state at 9"), 3));
        EXPECT_EQ(files_with(dir.path(), "raft-snapshot-"),
                  std::vector<std::string>{"raft-snapshot-00000000000000000009"});
    }
    auto store = open_ok(dir.path(), 100);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->first_index(), 7u);
    EXPECT_EQ(store->next_index(), 11u);
    ASSERT_TRUE(store->snapshot());
    const raft_snapshot_record& s = *store->snapshot();
    EXPECT_EQ(s.index, 9u);
    EXPECT_EQ(s.term, 1u);
    EXPECT_EQ(s.configuration_index, 1u);
    EXPECT_EQ(s.configuration, snapshot_at(9, 1, "").configuration);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(s.data.data()), s.data.size()),
              "state at 9");
    EXPECT_EQ(read_all(*store).begin()->first, 7u);
}

TEST(raft_log_store, an_installed_snapshot_replaces_the_log_even_after_a_crash_midway) {
    testing::temp_dir dir;
    const fs::path saved = fs::path(dir.path()) / "saved";
    {
        auto store = open_ok(dir.path());
        ASSERT_TRUE(store);
        ASSERT_TRUE(append(*store, {{1, 3, "c"}, {1, 1, "x"}, {1, 1, "y"}}));
        ASSERT_TRUE(store->sync());
        fs::create_directory(saved);
        fs::copy_file(fs::path(dir.path()) / "raft-log-00000000000000000001",
                      saved / "raft-log-00000000000000000001");
        ASSERT_TRUE(store->put_snapshot(snapshot_at(50, 4, "leader's"), 0));
        EXPECT_EQ(store->first_index(), 51u);
        EXPECT_EQ(store->next_index(), 51u);
        EXPECT_TRUE(files_with(dir.path(), "raft-log-").empty());
    }
    // A crash after the snapshot's rename, before the old segment was removed.
    fs::rename(saved / "raft-log-00000000000000000001",
               fs::path(dir.path()) / "raft-log-00000000000000000001");
    {
        auto store = open_ok(dir.path());
        ASSERT_TRUE(store);
        EXPECT_EQ(store->next_index(), 51u);
        EXPECT_TRUE(read_all(*store).empty());
        EXPECT_TRUE(files_with(dir.path(), "raft-log-").empty());
        ASSERT_TRUE(append(*store, {{4, 1, "fifty-one"}}));
        ASSERT_TRUE(store->sync());
    }
    auto store = open_ok(dir.path());
    ASSERT_TRUE(store);
    EXPECT_EQ(store->first_index(), 51u);
    EXPECT_EQ(read_all(*store).at(51).data, "fifty-one");
}

TEST(raft_log_store, an_installed_snapshot_that_disagrees_with_the_log_left_by_a_crash_wins) {
    for (const uint64_t snapshot_term : {uint64_t{1}, uint64_t{2}}) {
        testing::temp_dir dir;
        const fs::path saved = fs::path(dir.path()) / "saved";
        {
            auto store = open_ok(dir.path());
            ASSERT_TRUE(store);
            ASSERT_TRUE(append(*store, {{1, 3, "c"}, {1, 1, "2"}, {1, 1, "3"}, {1, 1, "4"}}));
            ASSERT_TRUE(store->sync());
            fs::create_directory(saved);
            fs::copy_file(fs::path(dir.path()) / "raft-log-00000000000000000001",
                          saved / "raft-log-00000000000000000001");
            ASSERT_TRUE(store->put_snapshot(snapshot_at(3, snapshot_term, "leader's"), 0));
        }
        // The crash came before the old log was removed; it reaches past the snapshot.
        fs::rename(saved / "raft-log-00000000000000000001",
                   fs::path(dir.path()) / "raft-log-00000000000000000001");
        auto store = open_ok(dir.path());
        ASSERT_TRUE(store);
        if (snapshot_term == 1) {
            // The same entry at the snapshot's place: the log after it is the same log.
            EXPECT_EQ(store->next_index(), 5u) << "term " << snapshot_term;
            EXPECT_EQ(read_all(*store).size(), 4u);
        } else {
            // Another entry there: the log is not this group's history any more.
            EXPECT_EQ(store->first_index(), 4u) << "term " << snapshot_term;
            EXPECT_EQ(store->next_index(), 4u);
            EXPECT_TRUE(read_all(*store).empty());
        }
    }
}

TEST(raft_log_store, entries_whose_term_goes_down_are_the_stale_end_of_a_truncation) {
    testing::temp_dir dir;
    {
        auto store = open_ok(dir.path());
        ASSERT_TRUE(store);
        // As if a truncation's cut was lost while the entries after it were not: the terms
        // along the file go 1, 3, 3, then back to 2.
        ASSERT_TRUE(
            append(*store, {{1, 3, "c"}, {3, 1, "new 2"}, {3, 1, "new 3"}, {2, 1, "old 4"}}));
        ASSERT_TRUE(store->sync());
    }
    auto store = open_ok(dir.path());
    ASSERT_TRUE(store);
    EXPECT_EQ(store->next_index(), 4u);
    EXPECT_EQ(read_all(*store).rbegin()->second.data, "new 3");
}

TEST(raft_log_store, a_truncation_is_on_disk_when_it_returns) {
    testing::temp_dir dir;
    auto store = open_ok(dir.path(), 100);
    ASSERT_TRUE(store);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(append(*store, {{1, 1, std::string(100, 'a')}}));
    ASSERT_TRUE(store->sync());
    ASSERT_TRUE(store->truncate(2));
    // No sync() after it: the files are already as the truncation left them.
    EXPECT_EQ(files_with(dir.path(), "raft-log-"),
              std::vector<std::string>{"raft-log-00000000000000000001"});
    auto again = open_ok(dir.path(), 100);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->next_index(), 2u);
}

TEST(raft_log_store, entries_that_do_not_follow_on_from_the_snapshot_are_refused) {
    testing::temp_dir dir;
    {
        auto store = open_ok(dir.path(), 10);
        ASSERT_TRUE(store);
        for (int i = 0; i < 6; ++i) ASSERT_TRUE(append(*store, {{1, 1, "0123456789"}}));
        ASSERT_TRUE(store->sync());
    }
    // A segment lost from the middle.
    fs::remove(fs::path(dir.path()) / "raft-log-00000000000000000003");
    auto store = raft_log_store::open(dir.path(), 10);
    ASSERT_FALSE(store);
    EXPECT_NE(store.err().message.find("does not follow on"), std::string::npos)
        << store.err().message;
}

// Flips one byte of a file.
void damage(const std::string& path, std::streamoff at) {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(at);
    const char c = static_cast<char>(f.get());
    f.seekp(at);
    f.put(static_cast<char>(c ^ 0x55));
}

TEST(raft_log_store, the_vote_alternates_between_two_files_and_outlives_a_torn_write) {
    testing::temp_dir dir;
    auto none = read_raft_vote(dir.path());
    ASSERT_TRUE(none);
    EXPECT_EQ(none.value().vote.term, 0u);
    EXPECT_EQ(none.value().sequence, 0u);
    ASSERT_TRUE(write_raft_vote(dir.path(), {7, 3}, 1));
    ASSERT_TRUE(write_raft_vote(dir.path(), {8, 0}, 2));
    ASSERT_TRUE(write_raft_vote(dir.path(), {8, 2}, 3));
    EXPECT_TRUE(fs::exists(dir / "raft-vote-1"));
    EXPECT_TRUE(fs::exists(dir / "raft-vote-2"));
    auto vote = read_raft_vote(dir.path());
    ASSERT_TRUE(vote);
    EXPECT_EQ(vote.value().vote.term, 8u);
    EXPECT_EQ(vote.value().vote.voted_for, 2u);
    EXPECT_EQ(vote.value().sequence, 3u);
    EXPECT_FALSE(raft_log_store::is_new(dir.path()));
    // The last write torn (raft-vote-1 holds write 3): the one before it stands.
    damage(dir / "raft-vote-1", 20);
    vote = read_raft_vote(dir.path());
    ASSERT_TRUE(vote);
    EXPECT_EQ(vote.value().vote.term, 8u);
    EXPECT_EQ(vote.value().vote.voted_for, 0u);
    EXPECT_EQ(vote.value().sequence, 2u);
    // Both damaged: refused, with the file named.
    damage(dir / "raft-vote-2", 20);
    auto damaged = read_raft_vote(dir.path());
    ASSERT_FALSE(damaged);
    EXPECT_NE(damaged.err().message.find("checksum"), std::string::npos);
    EXPECT_NE(damaged.err().message.find("raft-vote-"), std::string::npos);
}

TEST(raft_log_store, a_bootstrap_cut_short_after_its_vote_leaves_the_directory_new) {
    testing::temp_dir dir;
    // The first vote write torn (a power loss before its sync): nothing was stored.
    { std::ofstream(dir / "raft-vote-1") << "torn"; }
    auto torn = read_raft_vote(dir.path());
    ASSERT_TRUE(torn) << torn.err().message;
    EXPECT_EQ(torn.value().sequence, 0u);
    EXPECT_TRUE(raft_log_store::is_new(dir.path()));
    ASSERT_TRUE(write_raft_vote(dir.path(), {1, 0}, 1));
    EXPECT_TRUE(raft_log_store::is_new(dir.path()));
    // The configuration entry's segment begun but not whole: still a bootstrap to do again.
    { std::ofstream(dir / "raft-log-00000000000000000001") << "ESRL"; }
    EXPECT_TRUE(raft_log_store::is_new(dir.path()));
    fs::remove(dir / "raft-log-00000000000000000001");
    ASSERT_TRUE(write_raft_vote(dir.path(), {1, 2}, 2));
    EXPECT_FALSE(raft_log_store::is_new(dir.path()));
}

TEST(raft_log_store, a_directory_of_raft_uv_files_is_refused_with_a_way_out) {
    testing::temp_dir dir;
    { std::ofstream(dir / "metadata1") << "raft_uv"; }
    auto store = raft_log_store::open(dir.path(), 1 << 20);
    ASSERT_FALSE(store);
    EXPECT_NE(store.err().message.find("older eventstream"), std::string::npos)
        << store.err().message;
}

// Random appends, truncations, snapshots and reopens, checked against a map after every step.
TEST(raft_log_store, random_operations_match_a_model) {
    uint64_t seed = static_cast<uint64_t>(std::random_device{}());
    if (const char* env = std::getenv("ES_SEED"); env != nullptr && *env != '\0') {
        seed = std::strtoull(env, nullptr, 10);
    }
    SCOPED_TRACE("rerun with ES_SEED=" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    testing::temp_dir dir;
    const uint64_t segment_bytes = 64 + rng() % 512;
    auto store = open_ok(dir.path(), segment_bytes);
    ASSERT_TRUE(store);
    std::map<uint64_t, stored_entry> model;
    uint64_t first = 1, next = 1, term = 1, snapshot_index = 0;
    for (int step = 0; step < 400; ++step) {
        const int what = static_cast<int>(rng() % 100);
        if (what < 55) {
            std::vector<stored_entry> batch(1 + rng() % 4);
            for (auto& e : batch) {
                e = {term, static_cast<uint8_t>(1 + rng() % 3),
                     std::string(rng() % 200, static_cast<char>('a' + rng() % 26))};
                model[next++] = e;
            }
            ASSERT_TRUE(append(*store, batch));
        } else if (what < 70 && next > first) {
            // Never below the snapshot: libraft truncates only entries not yet committed.
            const uint64_t low = std::max(first, snapshot_index + 1);
            if (low <= next) {
                const uint64_t index = low + rng() % (next - low + 1);
                ASSERT_TRUE(store->truncate(index));
                model.erase(model.lower_bound(index), model.end());
                next = index;
                ++term;
            }
        } else if (what < 80 && !model.empty()) {
            // A snapshot at an entry held past the last snapshot, with that entry's term (as
            // libraft's are).
            auto from = model.upper_bound(snapshot_index);
            if (from != model.end()) {
                auto at = std::next(
                    from, static_cast<ptrdiff_t>(rng() % std::distance(from, model.end())));
                const uint64_t index = at->first;
                const uint64_t trailing = rng() % 8;
                ASSERT_TRUE(store->put_snapshot(
                    snapshot_at(index, at->second.term, std::to_string(index)), trailing));
                snapshot_index = index;
                if (trailing == 0) {
                    model.clear();
                    first = next = index + 1;
                }
            }
        } else if (what < 90) {
            ASSERT_TRUE(store->sync());
        } else {
            ASSERT_TRUE(store->sync());
            store.reset();
            store = open_ok(dir.path(), segment_bytes);
            ASSERT_TRUE(store);
        }
        // Compaction drops whole segments: the store may keep more than the model's first.
        ASSERT_EQ(store->next_index(), next) << "step " << step;
        ASSERT_LE(store->first_index(), std::max(first, snapshot_index + 1)) << "step " << step;
        while (!model.empty() && model.begin()->first < store->first_index()) {
            model.erase(model.begin());
        }
        first = store->first_index();
        if (step % 20 == 0 || what >= 90) {
            ASSERT_EQ(read_all(*store), model) << "step " << step;
        }
    }
}

}  // namespace
}  // namespace es::replication
