// Slot bitmap for thread_slot.h: claim on a thread's first record, release at its exit.
#include "metrics/thread_slot.h"

#include <atomic>
#include <bit>
#include <cstdint>

namespace es::metrics {
namespace detail {

constinit thread_local std::size_t thread_slot_plus_one = 0;

}  // namespace detail

namespace {

constexpr std::size_t word_bits = 64;
constexpr std::size_t word_count = max_thread_slots / word_bits;
static_assert(max_thread_slots % word_bits == 0);

// Bit i set = slot i is held by a live thread. Constant-initialised and trivially destructible,
// so threads that exit during static destruction can still release their slot.
constinit std::atomic<uint64_t> used_slots[word_count] = {};
constinit std::atomic<std::size_t> high_water{0};

void release_slot(std::size_t slot) noexcept {
    const uint64_t bit = uint64_t{1} << (slot % word_bits);
    // Release: the exiting thread's shard writes happen-before the next owner's acquire claim.
    used_slots[slot / word_bits].fetch_and(~bit, std::memory_order_release);
}

// Frees the thread's slot when the thread exits.
struct slot_owner {
    std::size_t slot = shared_slot;

    ~slot_owner() {
        if (slot != shared_slot) {
            release_slot(slot);
        }
        // Destructors of other thread_locals may still record after this one has run; they go
        // to the shared shards rather than claiming a slot nobody would free.
        detail::thread_slot_plus_one = shared_slot + 1;
    }
};

std::size_t claim_free_slot() noexcept {
    for (std::size_t w = 0; w < word_count; ++w) {
        uint64_t bits = used_slots[w].load(std::memory_order_relaxed);
        while (bits != ~uint64_t{0}) {
            const auto free_bit = static_cast<std::size_t>(std::countr_one(bits));
            // Acquire pairs with release_slot() of the slot's previous owner.
            if (used_slots[w].compare_exchange_weak(bits, bits | (uint64_t{1} << free_bit),
                                                    std::memory_order_acquire,
                                                    std::memory_order_relaxed)) {
                return w * word_bits + free_bit;
            }
        }
    }
    return shared_slot;
}

}  // namespace

namespace detail {

std::size_t claim_thread_slot() noexcept {
    // Constructed on this first call in each thread; its destructor runs at thread exit.
    static thread_local slot_owner owner;
    const std::size_t slot = claim_free_slot();
    owner.slot = slot;
    if (slot != shared_slot) {
        std::size_t seen = high_water.load(std::memory_order_relaxed);
        while (seen < slot + 1 &&
               !high_water.compare_exchange_weak(seen, slot + 1, std::memory_order_relaxed)) {
        }
    }
    thread_slot_plus_one = slot + 1;
    return slot;
}

}  // namespace detail

std::size_t thread_slot_high_water() noexcept {
    // Relaxed is enough: a reader that must see a writer's counts is ordered after them by some
    // other synchronisation (a join, a lock), which also orders it after the slot's claim.
    return high_water.load(std::memory_order_relaxed);
}

std::size_t thread_slots_in_use() noexcept {
    std::size_t n = 0;
    for (const auto& word : used_slots) {
        n += static_cast<std::size_t>(std::popcount(word.load(std::memory_order_relaxed)));
    }
    return n;
}

}  // namespace es::metrics
