// When elections happen: two rules that the node applies around libraft 0.15, so that a group
// whose leader died elects a new one about one election timeout after the last contact rather
// than up to two timeouts plus a tick later. Neither changes what an election decides: terms,
// log comparison and votes stay libraft's, so safety does not depend on them.
//
// 1. The leader-contact rule of the Raft thesis (§4.2.3) for vote requests, which libraft 0.15
// applies more strictly than the thesis does.
//
// The thesis: a server that has heard from a current leader within the minimum election timeout
// neither updates its term nor grants its vote, so that a server cut off from the leader cannot
// disrupt a cluster that still hears from it. libraft instead rejects every vote request as long
// as a follower still knows a leader, and it forgets the leader only when its own randomized
// election timer fires, anywhere between one and two election timeouts after the last contact.
// In a 3-node group whose leader died, the first follower to time out is then refused by the
// other until that one times out too: failover waits for the later of two random timers instead
// of the earlier (measured: a median of about 1 s at a 500 ms timeout; bench/RESULTS.md).
//
// So every incoming RequestVote passes through this rule first: when this follower has not
// heard from its leader for at least the election timeout, the request is marked as one that
// may set that leader aside (libraft's disrupt_leader flag, which leadership transfer uses and
// which only skips that one check). Terms, log comparison and the vote itself stay libraft's.
// Which requests are marked decides only when elections happen, never what they decide, so
// safety does not depend on it. A leader, a candidate, and a follower that heard from its
// leader recently are left as they are.
//
// 2. The tick. libraft looks at its election timer only when raft_io ticks, and raft_uv ticks
// once per heartbeat timeout, so a follower's timer fires up to a heartbeat late (100 ms by
// default, a fifth of the default election timeout). The node ticks raft_uv more often (tick_ms)
// and passes each tick on to libraft while the group is a follower or candidate; a leader still
// gets one per heartbeat timeout, as libraft expects, because a leader's tick may send to every
// follower whose replication is in flight (pass_tick_on): the first tick at least a heartbeat
// timeout after the last one passed, so a leader's heartbeats go out every 100 to 120 ms by
// default, as with raft_uv's own timer.
#pragma once

#include "replication/raft_c.h"

namespace es::replication {

// Applies the rule to `vote`, a RequestVote (or pre-vote) that `r` has received, at `now` on
// r's clock (raft_io::time). Returns true when it marked the request.
bool apply_leader_contact_rule(const struct raft& r, raft_time now, struct raft_request_vote& vote);

// The period at which raft_uv ticks when libraft asks for heartbeat_ms: a fifth of it, at least
// 1 ms.
unsigned tick_ms(unsigned heartbeat_ms) noexcept;

// Whether a tick of raft_uv at `now` goes on to libraft, for a group in `r`'s state whose last
// tick that went on was at `last_passed` and that asked for a tick every heartbeat_ms.
bool pass_tick_on(const struct raft& r, raft_time now, raft_time last_passed,
                  unsigned heartbeat_ms) noexcept;

}  // namespace es::replication
