// The leader-contact rule for vote requests (election_timing.h), on raft states set by hand.
#include "replication/election_timing.h"

#include <gtest/gtest.h>

#include <cstring>

namespace es::replication {
namespace {

constexpr unsigned k_timeout = 500;

// A raft in `state`, every other field zero.
struct raft raft_in(unsigned short state) {
    struct raft r;
    std::memset(&r, 0, sizeof r);
    r.state = state;
    return r;
}

constexpr unsigned short k_follower = RAFT_FOLLOWER, k_candidate = RAFT_CANDIDATE,
                         k_leader = RAFT_LEADER, k_unavailable = RAFT_UNAVAILABLE;

// A follower that last heard from leader 3 at time 1000 (ms on the group's clock).
struct raft follower_with_leader() {
    struct raft r = raft_in(RAFT_FOLLOWER);
    r.election_timeout = k_timeout;
    r.election_timer_start = 1000;
    r.follower_state.current_leader.id = 3;
    return r;
}

struct raft_request_vote vote_request(bool pre_vote) {
    struct raft_request_vote v;
    std::memset(&v, 0, sizeof v);
    v.term = 7;
    v.candidate_id = 2;
    v.pre_vote = pre_vote;
    return v;
}

TEST(leader_contact, a_follower_silent_for_an_election_timeout_lets_a_vote_set_its_leader_aside) {
    const struct raft r = follower_with_leader();
    for (bool pre_vote : {true, false}) {
        struct raft_request_vote v = vote_request(pre_vote);
        EXPECT_TRUE(apply_leader_contact_rule(r, 1000 + k_timeout, v));
        EXPECT_TRUE(v.disrupt_leader);
        // Nothing else of the request changes: terms and logs are still libraft's to compare.
        EXPECT_EQ(v.term, 7u);
        EXPECT_EQ(v.candidate_id, 2u);
        EXPECT_EQ(v.pre_vote, pre_vote);
        v = vote_request(pre_vote);
        EXPECT_TRUE(apply_leader_contact_rule(r, 1000 + 3 * k_timeout, v));
        EXPECT_TRUE(v.disrupt_leader);
    }
}

TEST(leader_contact, a_follower_that_heard_from_its_leader_within_the_timeout_keeps_it) {
    const struct raft r = follower_with_leader();
    for (raft_time now : {raft_time{1000}, raft_time{1001}, raft_time{1000 + k_timeout - 1}}) {
        struct raft_request_vote v = vote_request(true);
        EXPECT_FALSE(apply_leader_contact_rule(r, now, v)) << now;
        EXPECT_FALSE(v.disrupt_leader) << now;
    }
    // A clock that reads earlier than the last contact is not a silence.
    struct raft_request_vote v = vote_request(false);
    EXPECT_FALSE(apply_leader_contact_rule(r, 999, v));
    EXPECT_FALSE(v.disrupt_leader);
}

TEST(leader_contact, leaders_candidates_and_followers_without_a_leader_are_left_to_libraft) {
    struct raft r = follower_with_leader();
    r.follower_state.current_leader.id = 0;  // nothing to set aside: libraft already votes
    struct raft_request_vote v = vote_request(true);
    EXPECT_FALSE(apply_leader_contact_rule(r, 5000, v));
    EXPECT_FALSE(v.disrupt_leader);

    for (unsigned short state : {k_leader, k_candidate, k_unavailable}) {
        struct raft other = raft_in(state);
        other.election_timeout = k_timeout;
        other.election_timer_start = 1000;
        v = vote_request(false);
        EXPECT_FALSE(apply_leader_contact_rule(other, 5000, v)) << state;
        EXPECT_FALSE(v.disrupt_leader) << state;
    }
}

TEST(leader_contact, a_request_already_marked_by_a_leadership_transfer_stays_marked) {
    const struct raft r = follower_with_leader();
    struct raft_request_vote v = vote_request(false);
    v.disrupt_leader = true;
    EXPECT_FALSE(apply_leader_contact_rule(r, 1001, v));
    EXPECT_TRUE(v.disrupt_leader);
}

TEST(election_tick, raft_uv_ticks_five_times_per_heartbeat) {
    EXPECT_EQ(tick_ms(100), 20u);
    EXPECT_EQ(tick_ms(50), 10u);
    EXPECT_EQ(tick_ms(7), 1u);
    EXPECT_EQ(tick_ms(1), 1u);  // never a zero period, which would make uv's timer one-shot
}

TEST(election_tick, followers_and_candidates_see_every_tick) {
    for (unsigned short state : {k_follower, k_candidate, k_unavailable}) {
        const struct raft r = raft_in(state);
        // 20 ms after the last tick that went on: a follower's election timer is checked
        // five times per heartbeat, so it fires at most 20 ms late instead of 100.
        EXPECT_TRUE(pass_tick_on(r, 1020, 1000, 100)) << state;
        EXPECT_TRUE(pass_tick_on(r, 1000, 1000, 100)) << state;
    }
}

TEST(election_tick, a_leader_sees_one_tick_per_heartbeat) {
    const struct raft r = raft_in(RAFT_LEADER);
    int passed = 0;
    raft_time last = 1000;
    // A second of 20 ms ticks, each a little late, as uv's timer is: one per heartbeat passes.
    for (raft_time now = 1020; now <= 2000; now += 20) {
        const raft_time at = now + (now / 20) % 3;
        if (pass_tick_on(r, at, last, 100)) {
            EXPECT_GE(at - last, 100u) << at;
            last = at;
            ++passed;
        }
    }
    EXPECT_GE(passed, 8);
    EXPECT_LE(passed, 9);
    // Never a tick early: libraft's leader sends a heartbeat only when a whole heartbeat timeout
    // has passed since its last send, so a tick passed at 99 ms would send nothing.
    EXPECT_TRUE(pass_tick_on(r, 1100, 1000, 100));
    EXPECT_FALSE(pass_tick_on(r, 1099, 1000, 100));
    // A clock that went backwards passes, so a leader never goes without ticks.
    EXPECT_TRUE(pass_tick_on(r, 900, 1000, 100));
}

}  // namespace
}  // namespace es::replication
