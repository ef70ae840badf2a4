// What the engine needs from a cluster, as an interface: src/replication implements it, and
// core stays free of Raft. With it set (engine_options::cluster), topic admin goes through the
// controller, and durable topics are replicated: each partition takes publishes and
// subscriptions only on the node that leads its Raft group.
#pragma once

#include <string_view>

#include "common/result.h"
#include "core/topic.h"

namespace es::core {

struct topic_info;

class cluster_hooks {
  public:
    virtual ~cluster_hooks() = default;
    // Proposes the topic to the controller and returns once this node's engine holds it.
    // Errors: those of the engine's create_topic, not_leader (this node is not the
    // controller; the message names it), unavailable (no controller elected), timed_out.
    virtual result<topic_info> create_topic(const topic_config& config) = 0;
    // Proposes the deletion to the controller and returns once this node has dropped it.
    virtual status delete_topic(std::string_view name) = 0;
};

}  // namespace es::core
