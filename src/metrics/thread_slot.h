// Per-thread slot numbers for the sharded metrics: each thread that records gets a small index
// into every metric's shard array, so that writers never share a cache line.
//
// A thread claims the lowest free slot on its first record (one CAS on a bitmap) and keeps it
// until it exits; a thread_local destructor then returns it. Threads beyond max_thread_slots
// get shared_slot, whose shards are written with atomic read-modify-writes.
#pragma once

#include <cstddef>

namespace es::metrics {

// Slots for threads that write metrics. Each metric keeps max_thread_slots + 1 shard pointers
// (2 KiB), and a shard only for slots that have written to it.
inline constexpr std::size_t max_thread_slots = 256;
// The slot of threads that found no free slot. Its shards have many writers.
inline constexpr std::size_t shared_slot = max_thread_slots;

namespace detail {
// The calling thread's slot plus one; 0 until the thread first asks. Zero-initialised and with
// no destructor, so that reading it is a plain TLS load with no guard.
extern constinit thread_local std::size_t thread_slot_plus_one;
// Claims a slot for the calling thread and arranges for it to be freed when the thread exits.
std::size_t claim_thread_slot() noexcept;
}  // namespace detail

// The calling thread's slot: in [0, max_thread_slots), or shared_slot if all were taken when the
// thread first asked (it then stays on shared_slot for its whole life). Lock-free; the first
// call of a thread does one CAS per 64 slots scanned.
//
// Memory order: a slot's release at thread exit is a release RMW on the bitmap, and its claim
// is an acquire CAS, so everything the old owner wrote to the slot's shards happens-before
// the new owner's first write. That is what lets the new owner keep adding to those shards
// with plain load+store, and why counts never get lost when slots are reused.
inline std::size_t this_thread_slot() noexcept {
    std::size_t s = detail::thread_slot_plus_one;
    if (s != 0) [[likely]] {
        return s - 1;
    }
    return detail::claim_thread_slot();
}

// One past the highest slot ever claimed: readers need scan only shards below it (and
// shared_slot). Never decreases.
std::size_t thread_slot_high_water() noexcept;

// Slots currently held by live threads (for tests and diagnostics).
std::size_t thread_slots_in_use() noexcept;

}  // namespace es::metrics
