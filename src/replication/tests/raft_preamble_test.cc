// The Raft connection preamble: encode/decode round trips in every split, and refusals.
#include "replication/raft_preamble.h"

#include <gtest/gtest.h>

#include <cstring>

namespace es::replication {
namespace {

// Feeds `bytes` to a reader in pieces of at most `chunk` bytes, as a socket might deliver them.
preamble_reader::state feed(preamble_reader& reader, const std::vector<std::byte>& bytes,
                            size_t chunk, size_t* consumed) {
    size_t at = 0;
    while (reader.current() == preamble_reader::state::need_more && at < bytes.size()) {
        std::span<std::byte> want = reader.next_buffer();
        const size_t n = std::min({want.size(), chunk, bytes.size() - at});
        std::memcpy(want.data(), bytes.data() + at, n);
        at += n;
        reader.advance(n);
    }
    *consumed = at;
    return reader.current();
}

TEST(raft_preamble, round_trips_in_every_chunk_size_and_reads_nothing_past_its_end) {
    const preamble sent{0xfeedull, 7, 3, "127.0.0.1:7071"};
    std::vector<std::byte> bytes = encode_preamble(sent);
    ASSERT_EQ(bytes.size(), k_preamble_fixed_bytes + sent.address.size());
    // Bytes of raft_uv's stream follow the preamble; the reader must leave them alone.
    bytes.push_back(std::byte{0xAA});
    bytes.push_back(std::byte{0xBB});
    for (size_t chunk = 1; chunk <= bytes.size(); ++chunk) {
        preamble_reader reader;
        size_t consumed = 0;
        ASSERT_EQ(feed(reader, bytes, chunk, &consumed), preamble_reader::state::complete)
            << "chunk " << chunk;
        EXPECT_EQ(consumed, bytes.size() - 2) << "chunk " << chunk;
        EXPECT_EQ(reader.value().cluster_id, 0xfeedu);
        EXPECT_EQ(reader.value().group_id, 7u);
        EXPECT_EQ(reader.value().node_id, 3u);
        EXPECT_EQ(reader.value().address, "127.0.0.1:7071");
        EXPECT_TRUE(reader.next_buffer().empty());
    }
}

TEST(raft_preamble, cluster_and_group_ids_are_little_endian_after_the_magic) {
    std::vector<std::byte> bytes =
        encode_preamble({0x1112131415161718ull, 0x0102030405060708ull, 1, "a:1"});
    EXPECT_EQ(std::memcmp(bytes.data(), "ESRAFT02", 8), 0);
    EXPECT_EQ(bytes[8], std::byte{0x18});
    EXPECT_EQ(bytes[15], std::byte{0x11});
    EXPECT_EQ(bytes[16], std::byte{0x08});
    EXPECT_EQ(bytes[23], std::byte{0x01});
}

TEST(raft_preamble, cluster_id_depends_on_the_members_not_their_order) {
    const uint64_t id = cluster_id_of({{1, "a:1"}, {2, "b:2"}, {3, "c:3"}});
    EXPECT_EQ(cluster_id_of({{3, "c:3"}, {1, "a:1"}, {2, "b:2"}}), id);
    EXPECT_NE(cluster_id_of({{1, "a:1"}, {2, "b:2"}}), id);
    EXPECT_NE(cluster_id_of({{1, "a:1"}, {2, "b:2"}, {3, "c:4"}}), id);
    EXPECT_NE(cluster_id_of({{1, "a:1"}, {2, "b:2"}, {4, "c:3"}}), id);
}

TEST(raft_preamble, refuses_bad_magic_before_reading_further) {
    std::vector<std::byte> bytes = encode_preamble({5, 1, 1, "a:1"});
    bytes[0] = std::byte{'X'};
    preamble_reader reader;
    size_t consumed = 0;
    EXPECT_EQ(feed(reader, bytes, 64, &consumed), preamble_reader::state::malformed);
    EXPECT_EQ(consumed, k_preamble_fixed_bytes);
    EXPECT_NE(reader.error().find("magic"), std::string::npos);
}

TEST(raft_preamble, refuses_empty_or_oversized_address_and_node_zero) {
    std::vector<std::byte> bytes = encode_preamble({5, 1, 1, "a:1"});
    for (auto [lo, hi] : {std::pair{0, 0}, std::pair{0, 1}}) {  // lengths 0 and 256
        std::vector<std::byte> bad = bytes;
        bad[32] = std::byte(lo);
        bad[33] = std::byte(hi);
        preamble_reader reader;
        size_t consumed = 0;
        EXPECT_EQ(feed(reader, bad, 64, &consumed), preamble_reader::state::malformed);
    }
    std::vector<std::byte> node_zero = encode_preamble({5, 1, 1, "a:1"});
    node_zero[24] = std::byte{0};
    preamble_reader reader;
    size_t consumed = 0;
    EXPECT_EQ(feed(reader, node_zero, 64, &consumed), preamble_reader::state::malformed);
}

}  // namespace
}  // namespace es::replication
