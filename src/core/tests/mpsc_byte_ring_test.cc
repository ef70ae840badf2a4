// The ingest ring: variable-length entries, wrap-around with padding, fullness, and several
// producers at once with every byte checked.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/mpsc_byte_ring.h"

namespace es::core {
namespace {

bool put(mpsc_byte_ring& r, const std::string& s) {
    mpsc_byte_ring::claim c;
    if (!r.try_claim(s.size(), c)) return false;
    std::memcpy(c.data, s.data(), s.size());
    r.commit(c);
    return true;
}

std::vector<std::string> take(mpsc_byte_ring& r, size_t max = SIZE_MAX) {
    std::vector<std::string> out;
    r.consume(
        [&](std::span<std::byte> e) {
            // Entries are padded to 8 bytes; our strings end in '|', so cut there.
            std::string s(reinterpret_cast<const char*>(e.data()), e.size());
            out.push_back(s.substr(0, s.find('|') + 1));
        },
        max);
    return out;
}

TEST(mpsc_byte_ring, entries_come_out_in_order_and_whole) {
    mpsc_byte_ring r(1024);
    EXPECT_EQ(r.capacity(), 1024u);
    ASSERT_TRUE(put(r, "a|"));
    ASSERT_TRUE(put(r, "hello world|"));
    ASSERT_TRUE(put(r, std::string(100, 'z') + "|"));
    EXPECT_EQ(take(r, 2), (std::vector<std::string>{"a|", "hello world|"}));
    EXPECT_EQ(take(r), (std::vector<std::string>{std::string(100, 'z') + "|"}));
    EXPECT_TRUE(take(r).empty());
    EXPECT_TRUE(r.empty_approx());
}

TEST(mpsc_byte_ring, refuses_when_full_and_takes_again_after_consume) {
    mpsc_byte_ring r(256);  // entries of 56 payload bytes take 64
    const std::string s(55, 'x');
    int n = 0;
    while (put(r, s + "|")) ++n;
    EXPECT_EQ(n, 4);
    EXPECT_EQ(take(r, 1).size(), 1u);
    EXPECT_TRUE(put(r, s + "|"));
    EXPECT_FALSE(put(r, s + "|"));
}

TEST(mpsc_byte_ring, a_ring_filled_exactly_hands_each_entry_over_once) {
    // Found in review: with head - tail == capacity the consumer used to walk on into the
    // next lap, handing the same entries over again and moving its tail past the head.
    mpsc_byte_ring r(256);  // four entries of 56 payload bytes fill it exactly
    const std::string s(55, 'x');
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(put(r, s + "|"));
    ASSERT_FALSE(put(r, s + "|"));
    EXPECT_EQ(take(r, 64).size(), 4u);
    EXPECT_TRUE(r.empty_approx());
    // And the ring goes on working from an offset position: filled until it refuses (the
    // wrap then costs a padding entry), every accepted entry comes out exactly once.
    for (int round = 0; round < 10; ++round) {
        ASSERT_TRUE(put(r, "a|"));
        EXPECT_EQ(take(r).size(), 1u);
        size_t accepted = 0;
        while (put(r, s + "|")) ++accepted;
        EXPECT_GE(accepted, 2u);
        EXPECT_EQ(take(r, 64).size(), accepted);
        EXPECT_TRUE(r.empty_approx());
    }
}

TEST(mpsc_byte_ring, wraps_with_padding_and_keeps_every_entry) {
    mpsc_byte_ring r(256);
    uint64_t next = 0;
    uint64_t expect = 0;
    for (int round = 0; round < 200; ++round) {
        // Sizes that do not divide the ring, so that entries cross its end.
        for (int i = 0; i < 3; ++i) {
            if (!put(r, std::string(1 + (next % 40), 'a' + next % 26) + std::to_string(next) + "|"))
                break;
            ++next;
        }
        for (auto& s : take(r, 2)) {
            const std::string want =
                std::string(1 + (expect % 40), 'a' + expect % 26) + std::to_string(expect) + "|";
            ASSERT_EQ(s, want);
            ++expect;
        }
    }
    for (auto& s : take(r)) {
        ASSERT_EQ(s,
                  std::string(1 + (expect % 40), 'a' + expect % 26) + std::to_string(expect) + "|");
        ++expect;
    }
    EXPECT_EQ(expect, next);
    EXPECT_GT(next, 200u);
}

TEST(mpsc_byte_ring, uncommitted_entry_holds_back_those_behind_it) {
    mpsc_byte_ring r(1024);
    mpsc_byte_ring::claim first;
    ASSERT_TRUE(r.try_claim(8, first));
    ASSERT_TRUE(put(r, "second|"));
    EXPECT_TRUE(take(r).empty());  // "second" waits for "first"
    std::memcpy(first.data, "first|\0\0", 8);
    r.commit(first);
    EXPECT_EQ(take(r), (std::vector<std::string>{"first|", "second|"}));
}

// Several producers push entries of random sizes carrying (producer, sequence) and a body
// derived from them; the consumer checks every byte, per-producer order, and the total.
TEST(mpsc_byte_ring, many_producers_lose_and_reorder_nothing) {
#if defined(__SANITIZE_THREAD__)
    constexpr uint64_t per_producer = 20'000;
#else
    constexpr uint64_t per_producer = 200'000;
#endif
    constexpr int producers = 3;
    mpsc_byte_ring r(64 * 1024);
    std::atomic<int> running{producers};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            std::mt19937 rng(p);
            for (uint64_t seq = 0; seq < per_producer; ++seq) {
                const size_t body = rng() % 300;
                const size_t size = 16 + body;
                mpsc_byte_ring::claim c;
                while (!r.try_claim(size, c)) std::this_thread::yield();
                const uint64_t id = (uint64_t(p) << 56) | seq;
                std::memcpy(c.data, &id, 8);
                std::memcpy(c.data + 8, &size, 8);
                for (size_t i = 0; i < body; ++i) c.data[16 + i] = std::byte((id + i) & 0xff);
                r.commit(c);
            }
            running--;
        });
    }
    std::vector<uint64_t> next(producers, 0);
    uint64_t total = 0;
    bool ok = true;
    while (running.load() > 0 || !r.empty_approx()) {
        r.consume(
            [&](std::span<std::byte> e) {
                uint64_t id, size;
                std::memcpy(&id, e.data(), 8);
                std::memcpy(&size, e.data() + 8, 8);
                const int p = static_cast<int>(id >> 56);
                const uint64_t seq = id & ((uint64_t(1) << 56) - 1);
                ok &= p < producers && seq == next[p] && size <= e.size();
                if (p < producers) next[p] = seq + 1;
                for (size_t i = 16; i < size && ok; ++i) {
                    ok &= e[i] == std::byte((id + i - 16) & 0xff);
                }
                ++total;
            },
            64);
    }
    for (auto& t : threads) t.join();
    r.consume([&](std::span<std::byte>) { ++total; }, SIZE_MAX);
    EXPECT_TRUE(ok);
    EXPECT_EQ(total, producers * per_producer);
    for (int p = 0; p < producers; ++p) EXPECT_EQ(next[p], per_producer);
}

}  // namespace
}  // namespace es::core
