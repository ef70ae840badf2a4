// Fire-and-forget group-offset commits for the network threads: an ending WebSocket
// subscription and a long-poll's next poll commit what they delivered without waiting for a
// cluster's Raft round trip (up to 10 s), which would stall every connection on that thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/engine.h"

namespace es::server {

// Any thread except a worker. Commits each partition's next offset for `group`; a failure is
// logged as a warning that names `who` (e.g. "websocket subscription 3"). Commits of one
// partition are proposed in call order, so a later offset is never overwritten by an earlier.
void commit_in_background(core::engine& engine, const core::topic_ptr& topic,
                          const std::string& group, const std::map<uint32_t, uint64_t>& offsets,
                          std::string_view who);

}  // namespace es::server
