// Helpers shared by the SPSC and MPSC queue tests: an instrumented item type, the stress-test
// size knob, a watchdog that turns a lock-free livelock into a clear failure, and the stress test
// itself, written once for any queue with the shared API.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/cache.h"

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

// Spins briefly, then yields: the stress threads may outnumber the cores (the machine has two,
// and other work runs too), and a pure spin would then burn a whole time slice per hand-over.
inline void idle_wait(unsigned& spins) {
    if (++spins % 64 == 0) {
        std::this_thread::yield();
    } else {
        es::cpu_relax();
    }
}

// An item carries (producer id, sequence) in `key` and mix64(key) in `check`, so that the
// consumer can check order per producer, exactly-once delivery and the integrity of each slot.
struct stress_item {
    uint64_t key = 0;
    uint64_t check = 0;
};
inline constexpr int stress_producer_shift = 40;

struct stress_options {
    size_t capacity = 1024;
    int producers = 1;
    uint64_t items_per_producer = 1'000'000;
    size_t batch_max = 64;  // batches are 1..batch_max items on both sides; may exceed capacity
    uint32_t seed = 1;
};

// Runs opt.producers threads against one consumer (the calling thread) through a
// Queue<stress_item> and checks every item: order per producer, its check word, and checksums
// of all that was pushed against all that was popped. Producers mix blocking push, try_push and
// try_push_batch of random sizes; the consumer mixes try_pop and try_pop_batch of random sizes.
// REQUIRES: opt.producers == 1 when Queue allows a single producer only.
template <class Queue>
void stress(const stress_options& opt) {
    Queue q(opt.capacity);
    struct checksum {
        uint64_t sum = 0;
        uint64_t xor_keys = 0;
    };
    std::vector<checksum> pushed(opt.producers);
    std::atomic<uint64_t> received{0};
    const ::testing::TestInfo* const test = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string what = std::string(test->test_suite_name()) + "." + test->name();
    stall_watchdog watchdog(what.c_str(), received);

    std::vector<std::thread> producers;
    for (int p = 0; p < opt.producers; ++p) {
        producers.emplace_back([&, p] {
            std::mt19937 rng(opt.seed * 1000 + p);
            std::vector<stress_item> buf(opt.batch_max);
            std::vector<stress_item> pending(opt.batch_max);
            checksum sums;
            const auto make = [p](uint64_t seq) {
                const uint64_t key = (static_cast<uint64_t>(p) << stress_producer_shift) | seq;
                return stress_item{key, mix64(key)};
            };
            uint64_t seq = 0;
            unsigned spins = 0;
            while (seq < opt.items_per_producer) {
                const uint32_t mode = rng() % 4;
                size_t n = 1;
                if (mode == 0) {
                    q.push(make(seq));
                    buf[0] = make(seq);
                } else if (mode == 1) {
                    buf[0] = make(seq);
                    while (!q.try_push(buf[0])) idle_wait(spins);
                } else {
                    n = std::min<uint64_t>(1 + rng() % opt.batch_max, opt.items_per_producer - seq);
                    for (size_t i = 0; i < n; ++i) buf[i] = make(seq + i);
                    // The queue moves from what it takes; `buf` keeps the items for the checksum.
                    std::copy_n(buf.begin(), n, pending.begin());
                    size_t done = 0;
                    while (done < n) {
                        const size_t got = q.try_push_batch(pending.data() + done, n - done);
                        if (got == 0) idle_wait(spins);
                        done += got;
                    }
                }
                for (size_t i = 0; i < n; ++i) {
                    sums.sum += buf[i].check;
                    sums.xor_keys ^= buf[i].key;
                }
                seq += n;
            }
            pushed[p] = sums;
        });
    }

    const uint64_t total = opt.items_per_producer * opt.producers;
    std::vector<uint64_t> next_seq(opt.producers, 0);
    std::mt19937 rng(opt.seed);
    std::vector<stress_item> buf(opt.batch_max);
    checksum popped;
    uint64_t count = 0;
    int errors = 0;
    unsigned spins = 0;
    // Keeps draining after a bad item (resynchronising on the sequence seen) so that no producer
    // is left blocked on a full queue.
    while (count < total) {
        size_t got;
        if (rng() % 4 == 0) {
            got = q.try_pop(buf[0]) ? 1 : 0;
        } else {
            got = q.try_pop_batch(buf.data(), 1 + rng() % buf.size());
        }
        if (got == 0) {
            idle_wait(spins);
            continue;
        }
        for (size_t i = 0; i < got; ++i) {
            const stress_item& it = buf[i];
            const uint64_t p = it.key >> stress_producer_shift;
            const uint64_t seq = it.key & ((uint64_t{1} << stress_producer_shift) - 1);
            if (it.check != mix64(it.key) || p >= next_seq.size() || seq != next_seq[p]) {
                if (errors++ < 10) {
                    ADD_FAILURE() << "item " << i << " of a batch of " << got << ": producer " << p
                                  << " seq " << seq
                                  << (p < next_seq.size()
                                          ? " expected " + std::to_string(next_seq[p])
                                          : std::string(" (no such producer)"))
                                  << (it.check != mix64(it.key) ? ", bad check word" : "");
                }
            }
            if (p < next_seq.size()) next_seq[p] = seq + 1;
            popped.sum += it.check;
            popped.xor_keys ^= it.key;
        }
        count += got;
        received.store(count, std::memory_order_relaxed);
    }
    for (auto& t : producers) t.join();

    EXPECT_EQ(errors, 0);
    EXPECT_EQ(count, total);
    checksum expected;
    for (const checksum& c : pushed) {
        expected.sum += c.sum;
        expected.xor_keys ^= c.xor_keys;
    }
    EXPECT_EQ(popped.sum, expected.sum);
    EXPECT_EQ(popped.xor_keys, expected.xor_keys);
    for (int p = 0; p < opt.producers; ++p) {
        EXPECT_EQ(next_seq[p], opt.items_per_producer) << "producer " << p;
    }
    stress_item extra;
    EXPECT_FALSE(q.try_pop(extra));
    EXPECT_EQ(q.size_approx(), 0u);
}

}  // namespace es::core::test
