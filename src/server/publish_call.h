// One publish from an edge (an HTTP request or a WebSocket message) whose answer waits for the
// engine: the batches' completions, which arrive on worker threads, are gathered, and the
// caller's callback runs once with all of them. Also maps each event of the request to the
// offset it got, so that the answer can give every event its id.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/dispatcher.h"
#include "core/engine.h"

namespace es::server {

// What the producer asked to wait for (ARCHITECTURE.md "Producer acks").
enum class acks_mode {
    none,    // acks=0: answered once queued, without offsets
    leader,  // appended on the leader
    all,     // committed (durable topics: durable; memory topics: the same as leader)
};

// Parses "0", "leader", "1" (as leader), "all", "-1" (as all). Error: invalid_argument.
result<acks_mode> parse_acks(std::string_view text);
const char* acks_name(acks_mode m) noexcept;

struct publish_report {
    core::publish_summary summary;
    // Completed batches (empty with acks=none): one partition's in the order they were appended,
    // partitions in no particular order. A batch whose head was a duplicate (an idempotent
    // retry cut differently from its first send) comes as two: the duplicate head, then the
    // rest; duplicate_head is 0 in every outcome here.
    std::vector<core::publish_outcome> outcomes;
};

// Called once, on a worker thread or on the caller's thread: it must not block (hand the
// result to the caller's thread).
using publish_done = std::function<void(result<publish_report>)>;

// Publishes `events` to `t` with `options` (whose on_full is forced to backpressure::fail: an
// edge thread never waits for queue room). With acks=none `done` runs before this returns;
// else once every queued batch has completed. An error of the publish call itself (nothing
// queued) goes to `done` as well.
void publish_async(core::engine& engine, const core::topic_ptr& t,
                   std::span<const core::event_in> events, acks_mode acks, publish_done done,
                   core::publish_options options = {});

// The same, except when the engine's queues had no room and nothing was queued (queue_full
// for the whole call): then it returns that error and `done` is not called (nor moved from),
// so that the caller can try again. Returns nullopt in every other case.
std::optional<error> try_publish_async(core::engine& engine, const core::topic_ptr& t,
                                       std::span<const core::event_in> events, acks_mode acks,
                                       publish_done& done, core::publish_options options = {});

// The place of each event of a completed publish, in request order.
struct event_place {
    bool appended = false;  // false: its batch was refused (queue full, topic deleted)
    uint32_t partition = 0;
    uint64_t offset = 0;
};

// Assigns offsets to the events of a publish in request order: events with a key went to
// stable_hash(key) mod partitions, the others to one partition (dispatcher.h). Each partition's
// events take its batches' offsets in order. REQUIRES: no event was refused with queue_full
// (publish_summary::events_refused == 0); when an outcome says a batch was refused, no event
// is placed.
std::vector<event_place> place_events(std::span<const core::event_in> events,
                                      uint32_t partition_count,
                                      std::span<const core::publish_outcome> outcomes);

}  // namespace es::server
