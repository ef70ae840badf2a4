// The client routes keys as the server does, and shares a group's partitions statically.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "client/routing.h"
#include "common/hash.h"

namespace es::client {
namespace {

TEST(routing, key_partition_is_the_servers_stable_hash_mod_partitions) {
    for (uint32_t n : {1u, 3u, 8u, 13u}) {
        for (int i = 0; i < 200; ++i) {
            const std::string key = "key-" + std::to_string(i);
            EXPECT_EQ(partition_for_key(key, n), stable_hash(key) % n) << key << " mod " << n;
        }
    }
    // Pinned values: a change of the hash would move every key to another partition.
    EXPECT_EQ(partition_for_key("user-42", 8), 5u);
}

TEST(routing, static_assignment_takes_p_mod_n_equal_to_index) {
    EXPECT_EQ(static_assignment(8, 0, 3), (std::vector<uint32_t>{0, 3, 6}));
    EXPECT_EQ(static_assignment(8, 1, 3), (std::vector<uint32_t>{1, 4, 7}));
    EXPECT_EQ(static_assignment(8, 2, 3), (std::vector<uint32_t>{2, 5}));
    EXPECT_EQ(static_assignment(2, 2, 3), (std::vector<uint32_t>{}));
    EXPECT_EQ(static_assignment(4, 0, 1), (std::vector<uint32_t>{0, 1, 2, 3}));
}

TEST(routing, static_assignment_covers_every_partition_exactly_once) {
    for (uint32_t partitions = 1; partitions <= 17; ++partitions) {
        for (uint32_t members = 1; members <= 6; ++members) {
            std::multiset<uint32_t> all;
            for (uint32_t i = 0; i < members; ++i)
                for (uint32_t p : static_assignment(partitions, i, members)) all.insert(p);
            ASSERT_EQ(all.size(), partitions);
            for (uint32_t p = 0; p < partitions; ++p) EXPECT_EQ(all.count(p), 1u);
        }
    }
}

}  // namespace
}  // namespace es::client
