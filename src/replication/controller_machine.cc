// controller_machine: decoding and applying the controller group's commands under a lock.
#include "replication/controller_machine.h"

#include <mutex>
#include <utility>

namespace es::replication {

controller_machine::controller_machine(applied_fn on_applied, restored_fn on_restored)
    : on_applied_(std::move(on_applied)), on_restored_(std::move(on_restored)) {}

status controller_machine::apply(uint64_t index, std::span<const std::byte> command) {
    auto decoded = decode_controller_command(command);
    if (!decoded) return std::move(decoded).err();
    {
        std::unique_lock lock(mutex_);
        ES_TRY(state_.apply(*decoded));
    }
    // Outside the lock, so that the observer may read() or copy(); state_ cannot change
    // meanwhile because this thread is its only writer.
    if (on_applied_) on_applied_(*decoded, state_);
    return {};
}

result<std::vector<std::byte>> controller_machine::snapshot() {
    std::shared_lock lock(mutex_);
    return state_.snapshot();
}

status controller_machine::restore(std::span<const std::byte> snapshot) {
    // Parsed and checked aside, so that readers are held up only for the swap.
    controller_state restored;
    ES_TRY(restored.restore(snapshot));
    {
        std::unique_lock lock(mutex_);
        state_ = std::move(restored);
    }
    if (on_restored_) on_restored_(state_);
    return {};
}

controller_state controller_machine::copy() const {
    std::shared_lock lock(mutex_);
    return state_;
}

void controller_machine::read(const std::function<void(const controller_state&)>& f) const {
    std::shared_lock lock(mutex_);
    f(state_);
}

}  // namespace es::replication
