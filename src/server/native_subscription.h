// One native subscription's sink: the engine's workers hand it record runs, which it turns
// into EVENTS frames at once (one copy of the run); the connection's io thread takes the frames
// out only as far as the client's credit allows, so the server never sends beyond the credit.
//
// What it holds is bounded: the credit it shows the workers is the client's credit minus what
// it already holds, and at most k_native_held_events_max / k_native_held_bytes_max. (Workers of
// different partitions may deliver at once against the same credit; the frames that race past
// the credit wait here until more is granted, and nothing more is taken meanwhile.)
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "common/result.h"
#include "core/subscription.h"

namespace es::server {

class native_subscription final : public core::subscription_sink {
  public:
    // `wake` is called on a worker thread when frames arrive and no wake is pending; it must
    // not block (it posts to the connection's io thread). `request_id` is the SUBSCRIBE's.
    native_subscription(uint64_t subscription_id, uint64_t request_id, uint32_t credit_events,
                        uint64_t credit_bytes, std::function<void()> wake);

    uint64_t id() const noexcept { return id_; }

    // The connection's io thread. Adds to the client's credit. Error: invalid_argument when the sum
    // would pass 2^32-1 events or 2^63 bytes (a protocol error).
    status grant(uint32_t events, uint64_t bytes);

    // The connection's io thread. Moves the frames the credit allows (and gaps) to `out`, oldest
    // first, up to about `room` bytes (at least one frame when any fits the credit). Returns the
    // events moved. Clears the pending wake, so a later delivery wakes the connection again.
    uint64_t take(std::deque<std::string>& out, size_t room, size_t& moved_bytes);

    // subscription_sink; worker threads.
    core::delivery_credit credit(uint32_t partition) override;
    void on_events(uint32_t partition, const core::record_run& events) override;
    void on_gap(uint32_t partition, uint64_t first, uint64_t last) override;

  private:
    struct held_frame {
        std::string bytes;
        uint32_t events = 0;        // 0 for a gap
        uint64_t record_bytes = 0;  // 0 for a gap
    };
    void push(held_frame f);

    const uint64_t id_;
    const uint64_t request_id_;
    const std::function<void()> wake_;
    std::atomic<bool> wake_pending_{false};

    std::mutex mutex_;             // held for a few instructions by workers and the io thread
    std::deque<held_frame> held_;  // guarded by mutex_
    uint64_t credit_events_ = 0;   // granted, not yet sent; guarded by mutex_
    uint64_t credit_bytes_ = 0;    // guarded by mutex_
    uint64_t held_events_ = 0;     // guarded by mutex_
    uint64_t held_bytes_ = 0;      // guarded by mutex_
};

}  // namespace es::server
