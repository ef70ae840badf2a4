// Bounded lock-free single-producer single-consumer ring.
//
// Layout (after rigtorp's SPSCQueue): the write index and the producer's cached copy of the
// read index share one padded block; the read index and the consumer's cached copy of the write
// index share another. Each side reads the other's index only when its cached copy says the
// ring looks full (producer) or empty (consumer), so in steady state each side touches only its
// own cache lines plus the slots.
//
// Memory order: a slot is written, then the write index is stored with release; the consumer
// loads the write index with acquire before reading the slot. Symmetrically, the consumer moves
// the item out, then stores the read index with release; the producer loads it with acquire
// before reusing the slot. Indices are 64-bit and never wrap in practice.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

#include "common/assert.h"
#include "common/cache.h"

namespace es::core {

template <class T>
class spsc_queue {
    static_assert(std::is_nothrow_move_constructible_v<T>, "items move without throwing");

  public:
    // capacity is rounded up to a power of two. REQUIRES: capacity >= 2.
    explicit spsc_queue(size_t capacity)
        : capacity_(std::bit_ceil(capacity)),
          mask_(capacity_ - 1),
          slots_(static_cast<T*>(
              ::operator new[](capacity_ * sizeof(T), std::align_val_t{alignof(T)}))) {
        ES_ASSERT(capacity >= 2);
    }
    spsc_queue(const spsc_queue&) = delete;
    spsc_queue& operator=(const spsc_queue&) = delete;

    ~spsc_queue() {
        T tmp;
        while (try_pop(tmp)) {
        }
        ::operator delete[](slots_, std::align_val_t{alignof(T)});
    }

    // Producer thread only. Returns false, leaving `item` untouched, when the ring is full.
    template <class U>
    [[nodiscard]] bool try_push(U&& item) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        const uint64_t head = prod_.head.load(std::memory_order_relaxed);
        if (head - prod_.tail_cached == capacity_) {
            prod_.tail_cached = cons_.tail.load(std::memory_order_acquire);
            if (head - prod_.tail_cached == capacity_) return false;
        }
        new (&slots_[head & mask_]) T(std::forward<U>(item));
        prod_.head.store(head + 1, std::memory_order_release);
        return true;
    }

    // Producer thread only. Spins, then yields, until there is room.
    template <class U>
    void push(U&& item) {
        for (unsigned spins = 0; !try_push(std::forward<U>(item)); ++spins) {
            if (spins < 64) {
                cpu_relax();
            } else {
                std::this_thread::yield();
            }
        }
    }

    // Producer thread only. Moves up to n items from `items` into the ring and returns how many
    // it moved (a prefix of the array); the rest stay in `items`. One release store publishes
    // them all.
    [[nodiscard]] size_t try_push_batch(T* items, size_t n) noexcept {
        const uint64_t head = prod_.head.load(std::memory_order_relaxed);
        size_t room = capacity_ - (head - prod_.tail_cached);
        if (room < n) {
            prod_.tail_cached = cons_.tail.load(std::memory_order_acquire);
            room = capacity_ - (head - prod_.tail_cached);
        }
        const size_t count = n < room ? n : room;
        for (size_t i = 0; i < count; ++i) new (&slots_[(head + i) & mask_]) T(std::move(items[i]));
        if (count) prod_.head.store(head + count, std::memory_order_release);
        return count;
    }

    // Consumer thread only. Returns false when the ring is empty.
    [[nodiscard]] bool try_pop(T& out) noexcept {
        const uint64_t tail = cons_.tail.load(std::memory_order_relaxed);
        if (tail == cons_.head_cached) {
            cons_.head_cached = prod_.head.load(std::memory_order_acquire);
            if (tail == cons_.head_cached) return false;
        }
        T& slot = slots_[tail & mask_];
        out = std::move(slot);
        slot.~T();
        cons_.tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Consumer thread only. Moves up to max items into out[0..) and returns how many; one
    // release store hands all their slots back to the producer.
    [[nodiscard]] size_t try_pop_batch(T* out, size_t max) noexcept {
        const uint64_t tail = cons_.tail.load(std::memory_order_relaxed);
        size_t ready = cons_.head_cached - tail;
        if (ready < max) {
            cons_.head_cached = prod_.head.load(std::memory_order_acquire);
            ready = cons_.head_cached - tail;
        }
        const size_t count = max < ready ? max : ready;
        for (size_t i = 0; i < count; ++i) {
            T& slot = slots_[(tail + i) & mask_];
            out[i] = std::move(slot);
            slot.~T();
        }
        if (count) cons_.tail.store(tail + count, std::memory_order_release);
        return count;
    }

    // Consumer thread only: the oldest item, or nullptr when empty. Valid until the next pop.
    T* front() noexcept {
        const uint64_t tail = cons_.tail.load(std::memory_order_relaxed);
        if (tail == cons_.head_cached) {
            cons_.head_cached = prod_.head.load(std::memory_order_acquire);
            if (tail == cons_.head_cached) return nullptr;
        }
        return &slots_[tail & mask_];
    }

    // Any thread; a guess, exact only when both sides are quiet.
    size_t size_approx() const noexcept {
        const uint64_t head = prod_.head.load(std::memory_order_acquire);
        const uint64_t tail = cons_.tail.load(std::memory_order_acquire);
        return head >= tail ? static_cast<size_t>(head - tail) : 0;
    }
    bool empty_approx() const noexcept { return size_approx() == 0; }
    size_t capacity() const noexcept { return capacity_; }

  private:
    // Constant after construction.
    const size_t capacity_;
    const size_t mask_;
    T* const slots_;

    // Written by the producer only.
    struct alignas(false_sharing_bytes) producer_side {
        std::atomic<uint64_t> head{0};
        uint64_t tail_cached = 0;
    } prod_;
    // Written by the consumer only.
    struct alignas(false_sharing_bytes) consumer_side {
        std::atomic<uint64_t> tail{0};
        uint64_t head_cached = 0;
    } cons_;
};

}  // namespace es::core
