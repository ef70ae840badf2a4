// The Raft bridge: the only door to libraft (C-Raft 0.15 on libuv). Nothing outside
// src/replication includes raft.h; this header names no libraft or libuv type.
//
// One raft_host per node. It runs a few libuv loop threads; every Raft group (group 0 is the
// controller, then one group per replicated partition) is owned by one of them, and every
// libraft call for that group happens on that thread. Other threads hand work over through a
// queue and uv_async_send. One TCP port per node (7071 by default) carries every group: our
// own raft_uv_transport puts the group id in the connection handshake (see raft_transport.h).
//
// Each group keeps its Raft log, snapshots and vote under <dir>/g<group id> (our own files,
// raft_log_store.h; raft_uv's, from an older node, are refused).
// A state machine sees committed commands in log order, on its group's loop thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace es::replication {

// A Raft member: node id (1..) and its cluster address "host:port".
struct member {
    uint64_t id = 0;
    std::string address;
};

// What a group's state machine implements. Every call is made on the group's loop thread,
// one at a time; none may block for long (a loop thread serves several groups).
class state_machine {
  public:
    virtual ~state_machine() = default;
    // Applies the command committed at `index`. The same command may be applied again after a
    // restart (libraft replays its log from the last snapshot), so apply must be idempotent.
    // The returned status goes back to whoever proposed the command on this node (if any).
    virtual status apply(uint64_t index, std::span<const std::byte> command) = 0;
    // A snapshot of the whole state. Must be small: libraft holds it in memory and sends it
    // in one message.
    virtual result<std::vector<std::byte>> snapshot() = 0;
    // Replaces the state with a snapshot's (taken by this or another member).
    virtual status restore(std::span<const std::byte> snapshot) = 0;
    // Makes every command applied so far survive a crash of the machine. libraft restarts from
    // the newest snapshot and applies only the entries after it, so a snapshot is stored only
    // once this has returned success. Called on a thread of libuv's pool while apply() may
    // run on the loop thread. A machine whose state is all in the snapshot needs nothing.
    virtual status make_durable() { return {}; }
};

enum class role { follower, candidate, leader, unavailable };
const char* role_name(role r) noexcept;
// The role of libraft's state (RAFT_FOLLOWER, ...).
role role_of(int raft_state) noexcept;

struct group_view {
    role self = role::unavailable;
    // The leader as far as this member knows; nullopt while there is none.
    std::optional<member> leader;
    uint64_t term = 0;
    uint64_t commit_index = 0;
    uint64_t last_applied = 0;
};

struct group_options {
    uint64_t group_id = 0;
    // The voters. A group whose directory is new is bootstrapped with exactly these; every
    // voter must be given the same list. An existing group keeps its stored configuration.
    std::vector<member> voters;
    uint32_t election_timeout_ms = 1000;
    uint32_t heartbeat_timeout_ms = 100;
    // A snapshot is taken every `snapshot_threshold` applied entries, and libraft keeps
    // `snapshot_trailing` entries behind it for followers that lag a little. Keep trailing a
    // fair share of threshold: with libraft 0.15, threshold 8 / trailing 2 left a follower that
    // was catching up from a snapshot stalled in our tests (16 / 8 worked).
    uint32_t snapshot_threshold = 8192;
    uint32_t snapshot_trailing = 2048;
    // The group's Raft log begins a new segment file once one holds this much
    // (raft_log_store). Compaction after a snapshot drops whole segments, so this is also how
    // much more log than the snapshot's trailing entries a member may keep.
    size_t segment_bytes = 8u << 20;
    // Called on the loop thread whenever this member's role or known leader changes (after
    // the change is visible through view()). May be empty.
    std::function<void(const group_view&)> on_change;
};

// A running group. Thread-safe: calls from any thread are handed to the loop thread.
class raft_group {
  public:
    virtual ~raft_group() = default;
    virtual uint64_t id() const noexcept = 0;
    // Proposes a command. `done` runs on the loop thread once it was applied on this node
    // (with the status state_machine::apply returned, and its log index), or failed:
    // errc::not_leader (this member is not the leader, or lost leadership before the command
    // committed; the message names the leader when known), errc::unavailable (the group is
    // closing), errc::too_large.
    virtual void propose(std::vector<std::byte> command,
                         std::function<void(status, uint64_t index)> done) = 0;
    // Runs `done` on the loop thread once every command committed before the call is applied
    // (raft_barrier). Fails with not_leader on a non-leader.
    virtual void barrier(std::function<void(status)> done) = 0;
    // The latest role, leader and indexes (a copy kept up to date by the loop thread).
    virtual group_view view() const = 0;
    // Changes when snapshots are taken (group_options::snapshot_threshold and _trailing), from
    // the next applied entry on. Any thread; takes effect on the loop thread.
    virtual void set_snapshot_threshold(uint32_t threshold, uint32_t trailing) = 0;
    // Asks the leader to hand leadership to `to` (0: the most up-to-date voter).
    virtual void transfer_leadership(uint64_t to, std::function<void(status)> done) = 0;
};

struct host_options {
    uint64_t node_id = 0;
    // Address other nodes reach this node at ("127.0.0.1:7071"); the listener binds to it.
    std::string address;
    // Directory for every group's Raft files (created if missing).
    std::string dir;
    // Loop threads for groups other than group 0, which are spread over them by group id.
    // Group 0 (the cluster's controller) and the listener have one more loop of their own, so
    // that a group that holds its loop (a snapshot install that fetches the events it lacks)
    // never stalls them: the controller keeps its heartbeats and the node keeps accepting.
    uint32_t loops = 2;
    // Node-to-node requests (see raft_host::call): threads that run rpc_handler, and the most
    // requests waiting for one of them before new ones are answered with queue_full.
    uint32_t rpc_threads = 2;
    uint32_t rpc_queue_max = 256;
    // A request connection from another node with no request for this long is closed (ms).
    uint64_t rpc_idle_ms = 60'000;
    // The cluster's id (cluster_id_of its member list): every connection this node opens
    // carries it, and it refuses connections that carry another.
    uint64_t cluster_id = 0;
};

// Answers one node-to-node request. Runs on one of the host's rpc threads (never a loop
// thread), so it may block briefly (read the store, propose and wait); `reply` must be called
// exactly once, from any thread (a second call is a programmer error and asserts; if every copy
// of `reply` is dropped unanswered, the caller gets io_error). `from_node` is the caller's node
// id as its preamble said. The handler must return in bounded time: the host's destructor
// closes every request connection, then waits for running handlers (a reply made after that
// is dropped). A request or reply over 64 MiB is refused with too_large.
using rpc_reply = std::function<void(result<std::vector<std::byte>>)>;
using rpc_handler =
    std::function<void(uint64_t from_node, std::vector<std::byte> request, rpc_reply reply)>;

class raft_host {
  public:
    // Binds the cluster port and starts the loop threads. Errors: io_error (port in use, dir
    // unusable; the message names it).
    static result<std::unique_ptr<raft_host>> start(const host_options& options);
    // Fails this host's calls in flight with unavailable and closes the request connections
    // from other nodes (their calls end with unavailable), closes every group (their state
    // machines are not called again), waits for running rpc handlers to return and stops the
    // loops.
    virtual ~raft_host() = default;

    virtual uint64_t node_id() const noexcept = 0;
    // The port actually bound (useful when the address asked for port 0).
    virtual uint16_t port() const noexcept = 0;

    // Starts (bootstrapping if new) or reopens group `options.group_id` with `machine`, and
    // returns once libraft has loaded its log (before any election). Errors: already_exists,
    // io_error, invalid_argument (no voters, this node not among a new group's voters).
    virtual result<std::shared_ptr<raft_group>> open_group(
        group_options options, std::shared_ptr<state_machine> machine) = 0;
    // Closes the group and waits until libraft is done with it; with `erase` its Raft files
    // are removed too (the topic was deleted), also when the group is not open (deleted
    // while this node was down). Errors: not_found (not open, without `erase`), io_error.
    virtual status close_group(uint64_t group_id, bool erase) = 0;

    // --- node-to-node requests, over the same cluster port ---
    // Sets the handler of requests from other nodes. Call once, before other nodes may call;
    // requests that arrive with no handler set are answered with not_supported. Beyond
    // rpc_queue_max waiting requests, new ones are answered with queue_full.
    virtual void set_rpc_handler(rpc_handler handler) = 0;
    // Sends `request` to the node listening at `address` ("host:port") and waits for its
    // answer: the bytes its handler replied with, or the error it replied with (code and
    // message as sent). Errors of the call itself: unavailable (cannot connect, or the
    // connection broke, or this host is being destroyed), timed_out, too_large (request or
    // reply over 64 MiB), invalid_argument (not "host:port"). Any thread except a loop thread
    // (asserts); calls may run concurrently: each has a connection of its own for its exchange,
    // and connections are pooled per address. A call that timed out may still run on the
    // other node.
    virtual result<std::vector<std::byte>> call(const std::string& address,
                                                std::span<const std::byte> request,
                                                std::chrono::milliseconds timeout) = 0;
    // Ends every call waiting for an answer (they return unavailable) and fails later ones at
    // once, so that a node shutting down does not wait out their time-outs. The groups and
    // the handling of other nodes' requests go on until the host is destroyed. Any thread
    // except a loop thread; idempotent.
    virtual void stop_calls() = 0;
};

}  // namespace es::replication
