// The indices of a bounded multi-producer single-consumer ring, shared by mpsc_queue (slots)
// and mpsc_byte_ring (bytes): the producers' claim position with their cached copy of the
// consumer's position, and the consumer's position, each block on its own cache lines.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/cache.h"

namespace es::core {

class mpsc_indices {
  public:
    // room_at() result when the caller's head is older than the consumer's position.
    static constexpr size_t stale_head = SIZE_MAX;

    explicit mpsc_indices(size_t capacity) : capacity_(capacity) {}

    // Producers. The next position to claim (a hint: claim with try_advance_head()).
    uint64_t head() const noexcept { return prod_.head.load(std::memory_order_relaxed); }

    // Producers. Free positions from `head` on, at most the capacity: from the cached copy of
    // the consumer's position when that shows at least `wanted`, else from a fresh read of it.
    // Returns stale_head when `head` is behind the consumer (re-read head() and retry).
    //
    // The cached copy can go backwards (a producer that read the consumer's position earlier
    // may store it after one that read it later), so head may be more than a lap past it: the
    // subtraction then wraps, and only a fresh read gets out of that (re-reading head alone
    // would spin forever). acquire/release on the cached copy carries the consumer's release
    // of its position through to every producer that reuses room on the strength of the copy.
    size_t room_at(uint64_t head, size_t wanted) noexcept {
        uint64_t tail = prod_.tail_cached.load(std::memory_order_acquire);
        size_t room = capacity_ - static_cast<size_t>(head - tail);
        if (room < wanted || room > capacity_) {
            tail = cons_.tail.load(std::memory_order_acquire);
            prod_.tail_cached.store(tail, std::memory_order_release);
            room = capacity_ - static_cast<size_t>(head - tail);
        }
        return room > capacity_ ? stale_head : room;
    }

    // Producers. Claims [head, to) when head is still the claim position; else false with
    // `head` updated. seq_cst on success: a consumer that re-checks the ring after announcing
    // that it sleeps either sees this claim, or its announcement is seen by the claimer's
    // seq_cst load that follows (worker::park). On x86 every CAS is a full barrier anyway.
    bool try_advance_head(uint64_t& head, uint64_t to) noexcept {
        return prod_.head.compare_exchange_weak(head, to, std::memory_order_seq_cst,
                                                std::memory_order_relaxed);
    }

    // Consumer. Its position, and handing back everything before `to` (release: the consumer
    // is done with that room before a producer reuses it).
    uint64_t tail() const noexcept { return cons_.tail.load(std::memory_order_relaxed); }
    void release_to(uint64_t to) noexcept { cons_.tail.store(to, std::memory_order_release); }

    // Any thread; a guess.
    size_t used_approx() const noexcept {
        const uint64_t head = prod_.head.load(std::memory_order_acquire);
        const uint64_t tail = cons_.tail.load(std::memory_order_acquire);
        return head >= tail ? static_cast<size_t>(head - tail) : 0;
    }

  private:
    const size_t capacity_;  // constant after construction

    // Shared by producers: the next position to claim, and a cached copy of the consumer's.
    struct alignas(false_sharing_bytes) producer_side {
        std::atomic<uint64_t> head{0};
        std::atomic<uint64_t> tail_cached{0};
    } prod_;
    // Written by the consumer only.
    struct alignas(false_sharing_bytes) consumer_side {
        std::atomic<uint64_t> tail{0};
    } cons_;
};

}  // namespace es::core
