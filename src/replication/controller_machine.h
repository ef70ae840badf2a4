// controller_machine: the controller group's (group 0) state machine. It decodes each committed
// command and applies it to a controller_state, and lets other threads read that state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <span>
#include <vector>

#include "common/result.h"
#include "replication/controller_state.h"
#include "replication/raft_host.h"

namespace es::replication {

class controller_machine final : public state_machine {
  public:
    // Called on the apply thread after a command changed the state (not for a rejected one),
    // with the state as it is after the command. The node uses it to open and close partition
    // groups. It may call read() or copy(); the state it is given stays valid only during the
    // call.
    using applied_fn = std::function<void(const controller_command&, const controller_state&)>;
    // Called on the apply thread after restore() replaced the whole state (a snapshot from the
    // leader, or the node's own at start): the node must reconcile everything it derived from
    // the state, as no on_applied came for the commands the snapshot covers.
    using restored_fn = std::function<void(const controller_state&)>;

    explicit controller_machine(applied_fn on_applied = {}, restored_fn on_restored = {});

    // state_machine. Called on the group's loop thread only, one at a time.
    //
    // apply: the status of controller_state::apply (a refused command is still consumed: the
    // log moves on and the proposer gets the error); a command that does not decode gives
    // invalid_argument and changes nothing.
    status apply(uint64_t index, std::span<const std::byte> command) override;
    result<std::vector<std::byte>> snapshot() override;
    // Error: invalid_argument (a corrupt snapshot; the state is unchanged).
    status restore(std::span<const std::byte> snapshot) override;

    // Thread-safe reads. copy() returns the whole state; read() runs `f` on it under a shared
    // lock, so `f` must be short and must not call back into this machine's writers.
    controller_state copy() const;
    void read(const std::function<void(const controller_state&)>& f) const;

  private:
    // Constant after construction.
    const applied_fn on_applied_;
    const restored_fn on_restored_;

    // Written only by the apply thread, under an exclusive lock; read under a shared lock
    // (or without one by the apply thread itself, which is the only writer).
    mutable std::shared_mutex mutex_;
    controller_state state_;  // GUARDED_BY(mutex_)
};

}  // namespace es::replication
