// Helpers shared by the fuzz targets: FUZZ_CHECK, and the split points for the house rule that
// every target also feeds its input in chunks (STYLE.md "Tests", NATS server/fuzz.go).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/hash.h"

// A check a fuzz target makes of what the code under test returned: a failure aborts, which
// libFuzzer reports as a crash with the input that caused it.
#define FUZZ_CHECK(cond)           \
    do {                           \
        if (!(cond)) std::abort(); \
    } while (0)

namespace es::fuzz {

// Cuts `input` into pieces that concatenate back to it; an empty input gives no pieces. The
// cuts are derived from the input alone (a generator seeded with its hash), so a crash file
// reproduces its split exactly. Most pieces are 1..16 bytes, where a parser that keeps state
// across a boundary is most likely to get it wrong; one in four runs to a random longer length.
inline std::vector<std::string_view> split_chunks(std::string_view input) {
    std::vector<std::string_view> chunks;
    uint64_t state = stable_hash(input) | 1;
    size_t at = 0;
    while (at < input.size()) {
        // xorshift64: cheap and deterministic; the quality of the cuts hardly matters.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        const size_t left = input.size() - at;
        const size_t want = (state & 3) == 0 ? 1 + (state >> 8) % left : 1 + (state >> 8) % 16;
        const size_t n = std::min(want, left);
        chunks.push_back(input.substr(at, n));
        at += n;
    }
    return chunks;
}

}  // namespace es::fuzz
