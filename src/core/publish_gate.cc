// publish_gate on Linux membarrier(2).
#include "core/publish_gate.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "metrics/thread_slot.h"

namespace es::core {
namespace {

int membarrier(int cmd) {
    return static_cast<int>(syscall(__NR_membarrier, cmd, 0, 0));
}

bool register_membarrier() {
    const int supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

}  // namespace

publish_gate::publish_gate()
    : asymmetric_(register_membarrier()),
      marks_(std::make_unique<mark[]>(metrics::max_thread_slots)) {}

publish_gate::~publish_gate() = default;

bool publish_gate::enter() noexcept {
    const std::size_t slot = metrics::this_thread_slot();
    if (asymmetric_ && slot != metrics::shared_slot) [[likely]] {
        std::atomic<uint32_t>& inside = marks_[slot].inside;
        inside.store(1, std::memory_order_relaxed);
        // Keeps the compiler from moving the load above the store; the CPU barrier that the
        // handshake needs is supplied by close()'s membarrier.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        if (open_.load(std::memory_order_relaxed)) [[likely]]
            return true;
        inside.store(0, std::memory_order_release);
        return false;
    }
    shared_inside_.fetch_add(1, std::memory_order_seq_cst);
    if (open_.load(std::memory_order_seq_cst)) return true;
    shared_inside_.fetch_sub(1, std::memory_order_release);
    return false;
}

void publish_gate::leave() noexcept {
    const std::size_t slot = metrics::this_thread_slot();
    // Release: what the thread did inside (its queued batches) happens-before the closer's
    // acquire load that sees it gone.
    if (asymmetric_ && slot != metrics::shared_slot) {
        marks_[slot].inside.store(0, std::memory_order_release);
    } else {
        shared_inside_.fetch_sub(1, std::memory_order_release);
    }
}

void publish_gate::close() {
    open_.store(false, std::memory_order_seq_cst);
    if (asymmetric_) membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    for (std::size_t slot = 0; slot < metrics::max_thread_slots; ++slot) {
        while (marks_[slot].inside.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    }
    while (shared_inside_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

}  // namespace es::core
