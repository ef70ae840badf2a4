// Pacing for load generators (bench/, esctl bench): waiting for the moment the next message is
// due without spinning a core away from the system under test.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#include "common/clock.h"

namespace es {

// Waits until monotonic_ns() >= due_ns: sleeps while the moment is more than 100 us off (a
// paced load generator must not take a core from what it measures), then yields. Returns the
// time it woke.
inline int64_t wait_until_monotonic_ns(int64_t due_ns) noexcept {
    int64_t now;
    while ((now = monotonic_ns()) < due_ns) {
        if (due_ns - now > 100'000) {
            std::this_thread::sleep_for(std::chrono::nanoseconds(due_ns - now - 50'000));
        } else {
            std::this_thread::yield();
        }
    }
    return now;
}

}  // namespace es
