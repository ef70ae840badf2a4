// Per-thread-slot shards of a metric: the storage behind counter and histogram. Each writer
// thread adds to its own shard, so the hot path has no contended read-modify-write; readers
// sum over all shards.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "metrics/thread_slot.h"

namespace es::metrics::detail {

// Adds n to a shard field. A slot's shard has one writer at a time (its thread), so a relaxed
// load and store suffice and no lock prefix is paid; the shared slot has many writers and
// needs the atomic fetch_add. Readers load with relaxed: they want a recent value, not an
// ordering with other memory.
inline void shard_add(std::atomic<uint64_t>& field, uint64_t n, bool shared) noexcept {
    if (!shared) [[likely]] {
        field.store(field.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
        field.fetch_add(n, std::memory_order_relaxed);
    }
}

// Lowers field to v if v is smaller (single writer unless shared, as for shard_add).
inline void shard_min(std::atomic<uint64_t>& field, uint64_t v, bool shared) noexcept {
    uint64_t cur = field.load(std::memory_order_relaxed);
    if (!shared) [[likely]] {
        if (v < cur) {
            field.store(v, std::memory_order_relaxed);
        }
        return;
    }
    while (v < cur && !field.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}

// Raises field to v if v is larger (single writer unless shared, as for shard_add).
inline void shard_max(std::atomic<uint64_t>& field, uint64_t v, bool shared) noexcept {
    uint64_t cur = field.load(std::memory_order_relaxed);
    if (!shared) [[likely]] {
        if (v > cur) {
            field.store(v, std::memory_order_relaxed);
        }
        return;
    }
    while (v > cur && !field.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}

// One lazily allocated Shard per thread slot, plus one for shared_slot. Shard must be
// default-constructible to its zero state and should be alignas(false_sharing_bytes) so that
// two threads' shards never share a cache line.
//
// Memory order: a shard is fully constructed, then published with a release CAS; writers and
// readers load the pointer with acquire (a plain load on x86), so they never see a shard before
// its zeroed fields. Shards live until the metric is destroyed, so a slot's next owner keeps
// adding to the same shard and a reader can always sum them.
template <class Shard>
class sharded {
  public:
    sharded() noexcept {
        for (auto& s : shards_) {
            s.store(nullptr, std::memory_order_relaxed);
        }
    }
    ~sharded() {
        for (auto& s : shards_) {
            delete s.load(std::memory_order_acquire);
        }
    }
    sharded(const sharded&) = delete;
    sharded& operator=(const sharded&) = delete;

    // The shard of `slot`, allocated on the slot's first write to this metric (the only
    // allocation on the hot path, once per thread and metric).
    // REQUIRES: slot is the calling thread's this_thread_slot().
    Shard& local(std::size_t slot) {
        Shard* s = shards_[slot].load(std::memory_order_acquire);
        if (s == nullptr) [[unlikely]] {
            s = create(slot);
        }
        return *s;
    }

    // Calls f(const Shard&) for every allocated shard. Any thread; concurrent writes may or may
    // not be seen.
    template <class F>
    void for_each(F&& f) const {
        const std::size_t high = thread_slot_high_water();
        for (std::size_t i = 0; i < high && i < max_thread_slots; ++i) {
            if (const Shard* s = shards_[i].load(std::memory_order_acquire)) {
                f(*s);
            }
        }
        if (const Shard* s = shards_[shared_slot].load(std::memory_order_acquire)) {
            f(*s);
        }
    }

  private:
    // Out of line: keeps the allocation off the inlined hot path.
    [[gnu::noinline]] Shard* create(std::size_t slot) {
        auto* fresh = new Shard();
        Shard* expected = nullptr;
        // Only shared_slot can race here (a slot has one owner at a time); the loser frees its
        // copy and uses the winner's.
        if (shards_[slot].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel,
                                                  std::memory_order_acquire)) {
            return fresh;
        }
        delete fresh;
        return expected;
    }

    std::atomic<Shard*> shards_[max_thread_slots + 1];
};

}  // namespace es::metrics::detail
