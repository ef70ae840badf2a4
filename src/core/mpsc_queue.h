// Bounded lock-free multi-producer single-consumer queue.
//
// Producers claim a run of slots by CAS on the shared write index, after checking free space
// against the consumer's read index; then they fill their slots and mark each one published by
// storing its position + 1 in the slot's sequence word (release). The consumer takes slots in
// order while their sequence says "published for this lap" (acquire), and hands a whole run of
// slots back with one release store of its read index. A producer loads the read index with
// acquire before reusing a slot, so it never overwrites an item the consumer has not moved out.
//
// Because a producer can claim several slots in one CAS, a batch push costs one contended atomic
// however many items it carries. A producer that stalls between claiming and publishing holds
// back the consumer only at that slot (items behind it wait; none are lost or reordered).
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
#include "core/mpsc_indices.h"

namespace es::core {

template <class T>
class mpsc_queue {
    static_assert(std::is_nothrow_move_constructible_v<T>, "items move without throwing");
    static_assert(std::is_default_constructible_v<T>, "slots hold a default item when empty");

  public:
    // capacity is rounded up to a power of two. REQUIRES: capacity >= 2.
    explicit mpsc_queue(size_t capacity)
        : capacity_(std::bit_ceil(capacity)),
          mask_(capacity_ - 1),
          slots_(std::make_unique<slot[]>(capacity_)),
          idx_(capacity_) {
        ES_ASSERT(capacity >= 2);
        // A slot is free for the position p when its sequence is below p + 1; start at 0.
    }
    mpsc_queue(const mpsc_queue&) = delete;
    mpsc_queue& operator=(const mpsc_queue&) = delete;

    // Any thread. Returns false, leaving `item` untouched, when the queue is full.
    template <class U>
    [[nodiscard]] bool try_push(U&& item) noexcept(std::is_nothrow_assignable_v<T&, U&&>) {
        uint64_t pos;
        if (!claim(1, 1, pos)) return false;
        slot& s = slots_[pos & mask_];
        s.value = std::forward<U>(item);
        s.seq.store(pos + 1, std::memory_order_release);
        return true;
    }

    // Any thread. Spins, then yields, until there is room.
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

    // Any thread. Moves a prefix of items[0..n) into the queue with a single claim and returns
    // its length (0 when full). The items keep their order relative to each other.
    [[nodiscard]] size_t try_push_batch(T* items, size_t n) noexcept {
        if (n == 0) return 0;
        uint64_t pos;
        const size_t count = claim(1, n, pos);
        for (size_t i = 0; i < count; ++i) {
            slot& s = slots_[(pos + i) & mask_];
            s.value = std::move(items[i]);
            s.seq.store(pos + i + 1, std::memory_order_release);
        }
        return count;
    }

    // Consumer thread only.
    [[nodiscard]] bool try_pop(T& out) noexcept { return try_pop_batch(&out, 1) == 1; }

    // Consumer thread only. Moves up to max published items, in order, into out[0..).
    [[nodiscard]] size_t try_pop_batch(T* out, size_t max) noexcept {
        const uint64_t tail = idx_.tail();
        size_t count = 0;
        while (count < max) {
            slot& s = slots_[(tail + count) & mask_];
            if (s.seq.load(std::memory_order_acquire) != tail + count + 1) break;
            out[count] = std::move(s.value);
            ++count;
        }
        if (count) idx_.release_to(tail + count);
        return count;
    }

    // Any thread; a guess.
    size_t size_approx() const noexcept { return idx_.used_approx(); }
    bool empty_approx() const noexcept { return size_approx() == 0; }
    size_t capacity() const noexcept { return capacity_; }

  private:
    struct slot {
        std::atomic<uint64_t> seq{0};
        T value{};
    };

    // Claims between min and max consecutive positions, as many as are free; returns the count
    // (0 when fewer than min are free) and the first position in `pos`.
    size_t claim(size_t min, size_t max, uint64_t& pos) noexcept {
        uint64_t head = idx_.head();
        for (;;) {
            const size_t room = idx_.room_at(head, max);
            if (room == mpsc_indices::stale_head) {
                head = idx_.head();
                continue;
            }
            if (room < min) return 0;
            const size_t count = max < room ? max : room;
            if (idx_.try_advance_head(head, head + count)) {
                pos = head;
                return count;
            }
        }
    }

    // Constant after construction.
    const size_t capacity_;
    const size_t mask_;
    const std::unique_ptr<slot[]> slots_;

    mpsc_indices idx_;
};

}  // namespace es::core
