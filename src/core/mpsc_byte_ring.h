// Bounded lock-free multi-producer single-consumer ring of variable-length byte entries.
//
// The worker's ingest path: a producer claims room for a whole batch with one CAS, encodes the
// events straight into the ring, and commits; the worker reads the batch in place. No
// allocation per batch and no pointer to chase, and the bound is in bytes, which is what memory
// is counted in.
//
// Entry layout, 8-byte aligned, at any position in the ring:
//
//   0  u32 entry_bytes   whole entry, header and padding included; 0 while not committed
//   4  u32 kind          0: data, 1: padding (skips to the end of the ring)
//   8  ...               the producer's bytes, padded to 8
//
// Protocol (after Aeron's many-to-one ring buffer):
// * Producers claim [head, head + n) by CAS on head, after checking free space against the
//   consumer's tail (acquire); the indices and that check are mpsc_indices, shared with
//   mpsc_queue. An entry that would cross the end of the ring is preceded by a
//   padding entry covering the rest of the ring, claimed in the same CAS.
// * A producer writes its bytes, then stores entry_bytes with release: that store is the commit.
// * The consumer loads entry_bytes with acquire at its tail; 0 means "not committed yet", and
//   it stops there (entries behind a stalled producer wait, none is lost or reordered).
// * The consumer zeroes what it consumed, so every word a later producer may use as an
//   entry_bytes is 0, then stores tail with release. A producer reuses bytes only after it
//   has read that tail with acquire.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "common/assert.h"
#include "common/cache.h"
#include "core/mpsc_indices.h"

namespace es::core {

class mpsc_byte_ring {
  public:
    static constexpr size_t entry_header_bytes = 8;
    static constexpr size_t alignment = 8;

    // A claimed entry, to be filled and then committed by the same producer.
    struct claim {
        std::byte* data = nullptr;  // room for the requested bytes
        size_t bytes = 0;
        uint32_t* length_word = nullptr;
        uint32_t entry_bytes = 0;
    };

    // capacity_bytes is rounded up to a power of two. REQUIRES: capacity_bytes >= 64.
    explicit mpsc_byte_ring(size_t capacity_bytes)
        : capacity_(std::bit_ceil(capacity_bytes)),
          mask_(capacity_ - 1),
          buffer_(static_cast<std::byte*>(::operator new[](capacity_, std::align_val_t{64}))),
          idx_(capacity_) {
        ES_ASSERT(capacity_bytes >= 64);
        std::memset(buffer_.get(), 0, capacity_);
    }

    // Largest payload one entry may carry: a quarter of the ring, so that a full-size entry
    // never waits for more than a few others to drain.
    size_t max_entry_payload() const noexcept { return capacity_ / 4 - entry_header_bytes; }
    size_t capacity() const noexcept { return capacity_; }
    // Bytes of the ring an entry of `payload` bytes takes: its header and padding included.
    static constexpr size_t entry_bytes(size_t payload) noexcept {
        return align(entry_header_bytes + payload);
    }

    // Any thread. Claims room for `bytes` of payload. Returns false when the ring has no room
    // now. REQUIRES: bytes <= max_entry_payload().
    [[nodiscard]] bool try_claim(size_t bytes, claim& out) noexcept {
        ES_ASSERT(bytes <= max_entry_payload());
        const size_t entry = entry_bytes(bytes);
        uint64_t head = idx_.head();
        for (;;) {
            const size_t index = head & mask_;
            const size_t to_end = capacity_ - index;
            const size_t needed = entry <= to_end ? entry : to_end + entry;
            const size_t room = idx_.room_at(head, needed);
            if (room == mpsc_indices::stale_head) {
                head = idx_.head();
                continue;
            }
            if (room < needed) return false;
            if (!idx_.try_advance_head(head, head + needed)) continue;
            size_t at = index;
            if (entry > to_end) {
                // Pad out the rest of the ring; the entry goes at the start.
                store_header(at + 4, 1);
                length_at(at).store(static_cast<uint32_t>(to_end), std::memory_order_release);
                at = 0;
            }
            out.data = buffer_.get() + at + entry_header_bytes;
            out.bytes = bytes;
            out.length_word = reinterpret_cast<uint32_t*>(buffer_.get() + at);
            out.entry_bytes = static_cast<uint32_t>(entry);
            store_header(at + 4, 0);
            return true;
        }
    }

    // The claiming producer. Publishes the entry to the consumer (release: the entry's bytes
    // are visible to the consumer's acquire load of entry_bytes).
    void commit(const claim& c) noexcept {
        std::atomic_ref<uint32_t>(*c.length_word).store(c.entry_bytes, std::memory_order_release);
    }

    // Consumer thread only. Calls f(std::span<std::byte>) for up to max_entries committed
    // entries in order, then frees their room. Returns how many it handed over.
    template <class F>
    size_t consume(F&& f, size_t max_entries) {
        const uint64_t tail = idx_.tail();
        uint64_t pos = tail;
        size_t handed = 0;
        // Bounded by one lap: entries are zeroed only after the loop, so a full ring would
        // otherwise show this pass's first entry again at tail + capacity.
        while (handed < max_entries && pos - tail < capacity_) {
            const size_t index = pos & mask_;
            const uint32_t len = length_at(index).load(std::memory_order_acquire);
            if (len == 0) break;
            const auto kind = load_u32(index + 4);
            if (kind == 0) {
                f(std::span<std::byte>(buffer_.get() + index + entry_header_bytes,
                                       len - entry_header_bytes));
                ++handed;
            }
            pos += len;
        }
        if (pos != tail) release(tail, pos);
        return handed;
    }

    // Any thread; a guess.
    size_t used_bytes_approx() const noexcept { return idx_.used_approx(); }
    bool empty_approx() const noexcept { return used_bytes_approx() == 0; }

  private:
    static constexpr size_t align(size_t n) noexcept {
        return (n + alignment - 1) & ~(alignment - 1);
    }

    // The entry_bytes word at `index`, accessed atomically (it is the commit flag).
    std::atomic_ref<uint32_t> length_at(size_t index) const noexcept {
        return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(buffer_.get() + index));
    }
    uint32_t load_u32(size_t index) const noexcept {
        uint32_t v;
        std::memcpy(&v, buffer_.get() + index, sizeof v);
        return v;
    }
    void store_header(size_t index, uint32_t v) noexcept {
        std::memcpy(buffer_.get() + index, &v, sizeof v);
    }

    // Zeroes [from, to) (wrapping) and hands it back to the producers.
    void release(uint64_t from, uint64_t to) noexcept {
        const size_t start = from & mask_;
        const size_t n = static_cast<size_t>(to - from);
        const size_t first = n < capacity_ - start ? n : capacity_ - start;
        std::memset(buffer_.get() + start, 0, first);
        if (n > first) std::memset(buffer_.get(), 0, n - first);
        idx_.release_to(to);
    }

    struct aligned_delete {
        void operator()(std::byte* p) const noexcept {
            ::operator delete[](p, std::align_val_t{64});
        }
    };

    // Constant after construction.
    const size_t capacity_;
    const size_t mask_;
    const std::unique_ptr<std::byte[], aligned_delete> buffer_;

    mpsc_indices idx_;
};

}  // namespace es::core
