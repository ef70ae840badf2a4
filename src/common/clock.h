// Time sources. Code that decides by time (retention by age, lingering) takes a clock so tests
// can drive time by hand instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace es {

// Nanoseconds since the Unix epoch: the time stamped on events.
inline int64_t wall_time_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Nanoseconds on a monotonic clock: for latencies and time-outs.
inline int64_t monotonic_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A source of wall time. The default reads the system clock; manual_clock is set by tests.
class clock_source {
  public:
    virtual ~clock_source() = default;
    virtual int64_t now_ns() const noexcept = 0;
};

class system_clock_source final : public clock_source {
  public:
    int64_t now_ns() const noexcept override { return wall_time_ns(); }
    static const system_clock_source& instance() noexcept {
        static const system_clock_source c;
        return c;
    }
};

// Time that moves only when a test moves it. Safe to read from any thread.
class manual_clock final : public clock_source {
  public:
    explicit manual_clock(int64_t start_ns = 1'000'000'000) : now_(start_ns) {}
    int64_t now_ns() const noexcept override { return now_.load(std::memory_order_acquire); }
    void advance_ns(int64_t ns) noexcept { now_.fetch_add(ns, std::memory_order_acq_rel); }
    void set_ns(int64_t ns) noexcept { now_.store(ns, std::memory_order_release); }

  private:
    std::atomic<int64_t> now_;
};

}  // namespace es
