// Commands for the controller tests (controller_state_test, controller_fixture_test).
#pragma once

#include <cstdint>
#include <string>

#include "replication/controller_state.h"

namespace es::replication::testing {

// Node `id` at 10.0.0.<id>, with its cluster port and fixed client ports.
inline node_entry make_node(uint64_t id, uint16_t port = 7071) {
    node_entry n;
    n.id = id;
    n.raft_address = "10.0.0." + std::to_string(id) + ":" + std::to_string(port);
    n.host = "10.0.0." + std::to_string(id);
    n.native_port = 7070;
    n.http_port = 8080;
    n.grpc_port = 9090;
    return n;
}

inline controller_command register_node(uint64_t id, uint16_t port = 7071) {
    controller_command c;
    c.type = controller_command::kind::register_node;
    c.node = make_node(id, port);
    return c;
}

// Durable when replicated (memory topics take replication factor 1).
inline controller_command create_topic(std::string name, uint32_t partitions, uint32_t rf) {
    controller_command c;
    c.type = controller_command::kind::create_topic;
    c.config.name = std::move(name);
    c.config.partitions = partitions;
    c.config.replication_factor = rf;
    c.config.storage = rf > 1 ? core::storage_mode::durable : core::storage_mode::memory;
    return c;
}

inline controller_command delete_topic(std::string name) {
    controller_command c;
    c.type = controller_command::kind::delete_topic;
    c.name = std::move(name);
    return c;
}

inline controller_command leader_report(uint64_t topic_id, uint32_t partition, uint64_t node,
                                        uint64_t term) {
    controller_command c;
    c.type = controller_command::kind::partition_leader;
    c.topic_id = topic_id;
    c.partition = partition;
    c.node_id = node;
    c.term = term;
    return c;
}

}  // namespace es::replication::testing
