// A native PUBLISH with acks (leader or all) whose answer waits for the engine: the batches'
// completions arrive on worker threads and are gathered into one PUBLISH_ACK (or ERROR) frame.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "core/dispatcher.h"
#include "core/engine.h"

namespace es::server {

// Called once with the answer's frame bytes (`acked`: a PUBLISH_ACK, not an ERROR), on a worker
// thread or on the caller's thread: it must not block (it posts to the connection's io thread).
using native_answer = std::function<void(std::string frame, bool acked)>;

// Publishes `events` (views that need to live only during this call: the engine copies them)
// and answers `request_id` once every queued batch has completed: PUBLISH_ACK, or ERROR when
// the publish failed, some events were refused (queue_full) or a batch was refused. When the
// engine's queues had no room for any of it (nothing queued), returns that queue_full error
// instead and does not answer: the caller may try again, or answer it.
std::optional<error> publish_with_ack(core::engine& engine, const core::topic_ptr& t,
                                      std::span<const core::event_in> events,
                                      const core::publish_options& options, uint64_t request_id,
                                      uint64_t capabilities, native_answer answer);

}  // namespace es::server
