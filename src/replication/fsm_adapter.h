// Plugs a state_machine (raft_host.h) into libraft's struct raft_fsm. Internal to
// src/replication: it names libraft types. raft_host uses it for every group; state-machine
// tests use it with raft/fixture.h.
#pragma once

#include <cstddef>
#include <span>

#include "replication/raft_c.h"
#include "replication/raft_host.h"

namespace es::replication {

// Fills `fsm` (version 1: apply, snapshot, restore) so that libraft drives `machine`.
//
// apply: decodes the command frame (encode_command below), calls machine->apply and always returns
// 0 to libraft, because the command is committed whatever the machine thinks of it, except that
// a failure of this node's own storage (io_error, timed_out) stops the process (see
// fsm_adapter.cc: the entry is applied again after a restart); the machine's
// status travels through apply's `result` pointer as a `const es::status*` that the raft_apply
// callback reads (libraft 0.15 calls it right after fsm->apply). That status is owned by the
// adapter and is overwritten by the next apply, so a callback must copy it and never keep the
// pointer. snapshot: one raft_buffer allocated with raft_malloc (libraft frees it), holding
// "ESSNAP01" and then the machine's bytes, so a snapshot never has length 0.
// restore: checks the prefix, calls machine->restore and, on success, frees the buffer with
// raft_free as libraft requires (on failure libraft keeps ownership).
//
// The index passed to state_machine::apply comes from the struct raft that bind_raft_fsm
// names (raft_last_applied + 1); until a raft is bound it is 0.
//
// REQUIRES: `machine` outlives every use of `fsm`; close_raft_fsm before `fsm` goes away.
void init_raft_fsm(struct raft_fsm* fsm, es::replication::state_machine* machine);

// Frames a command for raft_apply: [u64 little-endian length][command][zero padding], a
// multiple of 8 bytes long. libraft 0.15 pads entry data to 8 bytes on disk and on the wire but
// does not count the padding everywhere it reads it back (a 5-byte command made a segment that
// failed to load), so every entry we write already has a length that is a multiple of 8.
// Returns a buffer allocated with raft_malloc (base == NULL when out of memory).
struct raft_buffer encode_command(std::span<const std::byte> command);

// Tells the adapter which raft instance drives `fsm`, so that apply knows each command's index.
// Call after raft_init (or raft_fixture_grow: raft_fixture_get(f, i)) and before raft_start.
void bind_raft_fsm(struct raft_fsm* fsm, const struct raft* raft);

// Releases what init_raft_fsm allocated. Call after raft_close's callback fired.
void close_raft_fsm(struct raft_fsm* fsm);

}  // namespace es::replication
