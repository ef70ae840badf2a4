// CRC-32C: published check values, continuation, and the instruction path against the table.
#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace es {
namespace {

TEST(crc32c, check_values) {
    // The check value of the CRC-32C catalogue entry, and RFC 3720's test vectors (iSCSI).
    const std::string digits = "123456789";
    EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xE3069283u);
    EXPECT_EQ(crc32c_portable(digits.data(), digits.size()), 0xE3069283u);
    const std::vector<unsigned char> zeros(32, 0x00), ones(32, 0xFF);
    std::vector<unsigned char> ascending(32), descending(32);
    for (int i = 0; i < 32; ++i) {
        ascending[i] = static_cast<unsigned char>(i);
        descending[i] = static_cast<unsigned char>(31 - i);
    }
    EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
    EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
    EXPECT_EQ(crc32c(ascending.data(), 32), 0x46DD794Eu);
    EXPECT_EQ(crc32c(descending.data(), 32), 0x113FDB5Cu);
    EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(crc32c, continues_across_pieces_and_agrees_with_the_table_at_every_length_and_alignment) {
    std::mt19937 rng(7);
    std::vector<unsigned char> bytes(9000 + 16);
    for (auto& b : bytes) b = static_cast<unsigned char>(rng());
    for (size_t align = 0; align < 8; ++align) {
        // Around every multiple of the three-stream block (768 bytes) too.
        for (size_t n : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 63u, 64u, 767u, 768u, 769u, 1000u, 1536u,
                         1543u, 4096u, 9000u}) {
            const unsigned char* p = bytes.data() + align;
            const uint32_t whole = crc32c(p, n);
            EXPECT_EQ(whole, crc32c_portable(p, n)) << "length " << n << " at +" << align;
            for (size_t cut : {size_t{0}, n / 3, n / 2, n}) {
                EXPECT_EQ(crc32c(p + cut, n - cut, crc32c(p, cut)), whole)
                    << "length " << n << " cut at " << cut;
            }
        }
    }
    // Changing one bit changes the CRC.
    const uint32_t before = crc32c(bytes.data(), 100);
    bytes[50] ^= 0x10;
    EXPECT_NE(crc32c(bytes.data(), 100), before);
}

}  // namespace
}  // namespace es
