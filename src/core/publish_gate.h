// publish_gate: lets any number of threads enter a short section (a publish call) without a
// locked instruction on their path, and lets one thread close the gate and wait until every
// thread that got in has left. The engine closes it on stop, so that no batch is queued after
// the workers have drained.
//
// How: each thread marks itself inside with a plain store to its own cache line and then reads
// `open_`. The closer clears `open_` and then runs membarrier(2), which makes every running
// thread of the process execute a full memory barrier (a thread not running gets one when it is
// scheduled). So either the closer sees the mark, and waits for it to clear, or the entering
// thread sees the gate closed. This is the asymmetric Dekker handshake: the slow side (close,
// once per process life) pays for the barrier that the fast side (every publish) leaves out.
// Where membarrier is not available, every thread uses one shared counter with locked
// read-modify-writes instead.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/cache.h"

namespace es::core {

class publish_gate {
  public:
    publish_gate();
    ~publish_gate();
    publish_gate(const publish_gate&) = delete;
    publish_gate& operator=(const publish_gate&) = delete;

    // Any thread. True when the caller is inside and must call leave(); false when the gate is
    // closed. Not re-entrant on one thread.
    [[nodiscard]] bool enter() noexcept;
    // The thread that entered.
    void leave() noexcept;

    // Closes the gate and waits until every thread inside has left. Idempotent.
    void close();

  private:
    struct alignas(false_sharing_bytes) mark {
        std::atomic<uint32_t> inside{0};
    };

    const bool asymmetric_;                // membarrier is registered; constant after construction
    const std::unique_ptr<mark[]> marks_;  // by metrics thread slot; written by that thread only
    alignas(false_sharing_bytes) std::atomic<int64_t> shared_inside_{0};
    alignas(false_sharing_bytes) std::atomic<bool> open_{true};
};

}  // namespace es::core
