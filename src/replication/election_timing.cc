// When elections happen: the leader-contact rule and the tick (see election_timing.h).
#include "replication/election_timing.h"

namespace es::replication {

bool apply_leader_contact_rule(const struct raft& r, raft_time now,
                               struct raft_request_vote& vote) {
    if (vote.disrupt_leader) return false;
    if (r.state != RAFT_FOLLOWER || r.follower_state.current_leader.id == 0) return false;
    // election_timer_start is the last contact with the leader (or the last vote granted, or
    // the conversion to follower): libraft resets it on each.
    if (now < r.election_timer_start || now - r.election_timer_start < r.election_timeout) {
        return false;
    }
    vote.disrupt_leader = true;
    return true;
}

unsigned tick_ms(unsigned heartbeat_ms) noexcept {
    const unsigned t = heartbeat_ms / 5;
    return t == 0 ? 1 : t;
}

bool pass_tick_on(const struct raft& r, raft_time now, raft_time last_passed,
                  unsigned heartbeat_ms) noexcept {
    if (r.state != RAFT_LEADER) return true;
    // Not a tick early: libraft sends a heartbeat to a follower only when a whole heartbeat
    // timeout has passed since its last send, so a tick passed even a little early would send
    // nothing, and that follower would wait nearly two heartbeats.
    return now < last_passed || now - last_passed >= heartbeat_ms;
}

}  // namespace es::replication
