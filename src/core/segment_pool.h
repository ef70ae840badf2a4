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

class segment_pool {
  public:
    // Keeps at most keep_bytes of freed buffers (whole buffers of buffer_bytes); 0 keeps none.
    segment_pool(size_t buffer_bytes, size_t keep_bytes);
    segment_pool(const segment_pool&) = delete;
    segment_pool& operator=(const segment_pool&) = delete;

    size_t buffer_bytes() const noexcept { return buffer_bytes_; }

    // Any thread. A buffer of buffer_bytes(): a kept one when there is one (then *kept, if
    // given, is set), else a new one (not zeroed, pages not yet mapped).
    std::unique_ptr<std::byte[]> take(bool* kept = nullptr);
    // Any thread. Keeps `b` (a buffer from take()) while the pool holds less than keep_bytes,
    // else frees it.
    void give(std::unique_ptr<std::byte[]> b);
    // Fills the pool up to keep_bytes with new buffers, writing one byte per page of each so
    // that the kernel maps them now. Returns the bytes added.
    size_t pretouch();

    // Any thread: bytes of buffers kept now.
    size_t kept_bytes() const;

  private:
    const size_t buffer_bytes_;
    const size_t keep_max_;  // buffers
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<std::byte[]>> kept_;  // guarded by mutex_
};

}  // namespace es::core
