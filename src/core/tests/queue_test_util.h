// Helpers shared by the SPSC and MPSC queue tests: an instrumented item type, the stress-test
// size knob and a watchdog that turns a lock-free livelock into a clear failure.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#if defined(__SANITIZE_THREAD__)
#define ES_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ES_TEST_TSAN 1
#endif
#endif

namespace es::core::test {

// A move-only item that counts itself, so tests can see what a queue constructs, destroys and
// leaks. `live` counts objects in existence (moved-from ones included); `owned` counts objects
// holding a value, which is what a queue must neither lose nor duplicate. Single-threaded tests
// only: the counters are plain integers so that TSan reports nothing that the queue did not do.
struct counted {
    static inline int64_t live = 0;
    static inline int64_t owned = 0;

    int value = 0;  // 0 means empty (default-constructed or moved from)

    counted() noexcept { ++live; }
    explicit counted(int v) noexcept : value(v) {
        ++live;
        if (value != 0) ++owned;
    }
    counted(counted&& other) noexcept : value(std::exchange(other.value, 0)) { ++live; }
    counted& operator=(counted&& other) noexcept {
        if (this != &other) {
            if (value != 0) --owned;
            value = std::exchange(other.value, 0);
        }
        return *this;
    }
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;
    ~counted() {
        --live;
        if (value != 0) --owned;
    }

    static void reset() noexcept {
        live = 0;
        owned = 0;
    }
};

// Items per producer for the stress tests. ES_QUEUE_STRESS_ITEMS overrides it; under
// ThreadSanitizer (every atomic and every slot access is instrumented; 5-15 times slower) the
// default is cut to a quarter, which still runs the whole suite in seconds on two cores.
inline uint64_t stress_items(uint64_t normal_default) {
    if (const char* env = std::getenv("ES_QUEUE_STRESS_ITEMS"); env && *env) {
        return std::stoull(env);
    }
#ifdef ES_TEST_TSAN
    return normal_default / 4;
#else
    return normal_default;
#endif
}

// Aborts the process with a message when `progress` has not moved for `quiet_s` seconds. A
// lock-free queue that livelocks spins forever instead of failing, and a CTest timeout five
// minutes later says nothing about where; this says which test stalled and how far it got.
class stall_watchdog {
  public:
    stall_watchdog(const char* what, const std::atomic<uint64_t>& progress, int quiet_s = 60)
        : thread_([this, what, &progress, quiet_s] {
              uint64_t last = progress.load(std::memory_order_relaxed);
              auto last_change = std::chrono::steady_clock::now();
              std::unique_lock lock(mutex_);
              while (!done_) {
                  cv_.wait_for(lock, std::chrono::milliseconds(200));
                  const uint64_t now_value = progress.load(std::memory_order_relaxed);
                  const auto now = std::chrono::steady_clock::now();
                  if (now_value != last) {
                      last = now_value;
                      last_change = now;
                  } else if (!done_ && now - last_change > std::chrono::seconds(quiet_s)) {
                      std::fprintf(stderr, "%s: no progress for %d s at %llu items; stalled\n",
                                   what, quiet_s, static_cast<unsigned long long>(last));
                      std::fflush(stderr);
                      std::abort();
                  }
              }
          }) {}
    stall_watchdog(const stall_watchdog&) = delete;
    stall_watchdog& operator=(const stall_watchdog&) = delete;
    ~stall_watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;  // guarded by mutex_
    std::thread thread_;
};

// A cheap bijective mix (splitmix64's finaliser) so that each stress item carries a check word
// that a torn or stale read would not match.
inline uint64_t mix64(uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

}  // namespace es::core::test
