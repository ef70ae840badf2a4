// What the engine needs from a cluster, as an interface: src/replication implements it, and
// core stays free of Raft. With it set (engine_options::cluster), topic admin goes through the
// controller, and durable topics are replicated: each partition takes publishes and
// subscriptions only on the node that leads its Raft group.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "core/topic.h"

namespace es::core {

struct topic_info;

// Where the partitions are led, as this node knows it: for clients' metadata requests.
struct cluster_layout {
    struct node {
        uint32_t id = 0;
        std::string host;  // where clients reach it
        uint16_t native_port = 0;
    };
    std::vector<node> nodes;
    // Topic name -> the leader of each partition; 0 where none is known (an election runs).
    std::unordered_map<std::string, std::vector<uint32_t>> leaders;
};

// The leader of each partition of `info`: from `layout` in a cluster (0 where none is known),
// else (nullopt: a single node) `self`, which leads every partition.
std::vector<uint32_t> partition_leaders(const topic_info& info,
                                        const std::optional<cluster_layout>& layout, uint32_t self);

class cluster_hooks {
  public:
    virtual ~cluster_hooks() = default;
    // Proposes the topic to the controller and returns once this node's engine holds it.
    // Errors: those of the engine's create_topic, not_leader (this node is not the
    // controller; the message names it), unavailable (no controller elected), timed_out.
    virtual result<topic_info> create_topic(const topic_config& config) = 0;
    // Proposes the deletion to the controller and returns once this node has dropped it.
    virtual status delete_topic(std::string_view name) = 0;
    // The nodes and the partitions' leaders as this node knows them now. Any thread.
    virtual cluster_layout layout() const = 0;
};

}  // namespace es::core
