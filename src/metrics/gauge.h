// gauge and double_gauge: a value that goes up and down (queue depth, connections, lag).
#pragma once

#include <atomic>
#include <cstdint>

#include "common/cache.h"

namespace es::metrics {

// A gauge is one shared value rather than per-thread shards, because set() must replace it
// wholesale. set() and value() are plain relaxed stores and loads; add() is an atomic
// fetch_add, so a gauge that many threads add() to often belongs in two counters instead
// (e.g. opened_total and closed_total). Aligned so that it shares no cache line.
template <class T>
class alignas(false_sharing_bytes) basic_gauge {
  public:
    basic_gauge() = default;
    basic_gauge(const basic_gauge&) = delete;
    basic_gauge& operator=(const basic_gauge&) = delete;

    // Any thread. Relaxed: a gauge orders nothing else.
    void set(T v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void add(T delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
    void sub(T delta) noexcept { value_.fetch_sub(delta, std::memory_order_relaxed); }
    T value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<T> value_{T{}};
};

using gauge = basic_gauge<int64_t>;
using double_gauge = basic_gauge<double>;

}  // namespace es::metrics
