// Translations between the native protocol's messages and the engine's types: topic settings
// and details, start positions, the events of a PUBLISH, and publish outcomes to batch acks.
#pragma once

#include <span>
#include <vector>

#include "core/batch.h"
#include "core/engine.h"
#include "core/event.h"
#include "protocol/messages.h"

namespace es::server {

// CREATE_TOPIC's settings as a topic_config; 0 in retention_bytes or max_event_bytes means the
// default. Error: invalid_argument (storage, replication factor).
result<core::topic_config> topic_config_of(const protocol::topic_settings& s);

// TOPIC_INFO, with each partition's leader from `leaders` (core::partition_leaders).
protocol::topic_detail topic_detail_of(const core::topic_info& info,
                                       const std::vector<uint32_t>& leaders);

core::start_position start_position_of(const protocol::subscribe_request& s);

// Views of a PUBLISH's events for engine::publish; they point into `request` (and so into the
// frame it was decoded from).
struct publish_views {
    std::vector<core::header_in> headers;
    std::vector<core::event_in> events;
};
void make_publish_views(const protocol::publish_request& request, publish_views& out);

// PUBLISH_ACK entries for the completed batches: sorted by partition, then offset.
// `offset_unknown`: the client was granted capability_duplicate_offset_unknown.
protocol::publish_ack publish_ack_of(std::vector<core::publish_outcome> outcomes,
                                     bool offset_unknown);

}  // namespace es::server
