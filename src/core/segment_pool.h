// The node's pool of memory-partition segment buffers of the largest size (8 MiB), shared by
// every partition. A segment that retention drops or a deleted topic frees comes back here
// with its pages still mapped, and the next segment any partition needs takes it, so that
// filling it costs no page faults: the first write to a fresh page faults, and the kernel
// zeroes it (measured on a 2-vCPU VM: 44 % of a worker's time while a partition grew at
// 320 MB/s; bench/RESULTS.md, 2026-11-30). Optionally the pool is filled at start, each page
// touched, as the JVM's -XX:+AlwaysPreTouch or Seastar's up-front allocation do.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace es::core {

// Writes one byte per page of data[from, to), so that the kernel maps (and zeroes) those
// pages now rather than at the first writes that fill them.
void map_pages(std::byte* data, size_t from, size_t to) noexcept;

class segment_pool {
  public:
    // Keeps at most keep_bytes of freed buffers (whole buffers of buffer_bytes); 0 keeps none.
    segment_pool(size_t buffer_bytes, size_t keep_bytes);
    segment_pool(const segment_pool&) = delete;
    segment_pool& operator=(const segment_pool&) = delete;

    size_t buffer_bytes() const noexcept { return buffer_bytes_; }

    // Any thread. A buffer of buffer_bytes(): a kept one when there is one, else a new one (not
    // zeroed). *mapped, if given, is set to how many of its bytes, from the start, have their
    // pages mapped (0 for a new one).
    std::unique_ptr<std::byte[]> take(size_t* mapped = nullptr);
    // Any thread. Keeps `b` (a buffer from take(), whose first `mapped` bytes were written or
    // touched) while the pool holds less than keep_bytes, else frees it.
    void give(std::unique_ptr<std::byte[]> b, size_t mapped);
    // Fills the pool up to keep_bytes with new buffers, writing one byte per page of each so
    // that the kernel maps them now. Returns the bytes added.
    size_t pretouch();

    // Any thread: bytes of buffers kept now.
    size_t kept_bytes() const;

  private:
    const size_t buffer_bytes_;
    const size_t keep_max_;  // buffers
    mutable std::mutex mutex_;
    struct kept_buffer {
        std::unique_ptr<std::byte[]> bytes;
        size_t mapped = 0;
    };
    std::vector<kept_buffer> kept_;  // guarded by mutex_
};

}  // namespace es::core
