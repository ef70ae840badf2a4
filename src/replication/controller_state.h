// The controller's state (group 0): the node list, the topic table with each partition's
// replicas, and the leader each partition last reported. Every node holds a copy, brought up
// to date by applying the controller group's committed commands in order; the controller
// group's leader is the controller.
//
// This class is plain data plus deterministic rules: applying the same commands in the same
// order gives the same state on every node (placement included), which is what a replicated
// state machine needs. controller_machine (controller_machine.h) adapts it to Raft.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/topic.h"

namespace es::replication {

struct node_entry {
    uint64_t id = 0;
    std::string raft_address;  // "host:port" of the cluster port
    // Client-facing address and ports, so that a "not leader" error can say where to go.
    std::string host;
    uint16_t native_port = 0;
    uint16_t http_port = 0;
    uint16_t grpc_port = 0;

    bool operator==(const node_entry&) const = default;
};

struct partition_entry {
    // Replica node ids, in placement order; replicas.size() == the topic's replication factor.
    std::vector<uint64_t> replicas;
    // The leader as last reported by a replica that won an election, with its Raft term; a
    // report with a lower term than the one held is ignored. 0: none reported yet.
    uint64_t leader = 0;
    uint64_t leader_term = 0;

    bool operator==(const partition_entry&) const = default;
};

struct topic_entry {
    core::topic_config config;
    uint64_t id = 0;  // unique, never reused, assigned by the controller
    std::vector<partition_entry> partitions;

    bool operator==(const topic_entry&) const = default;
};

// A controller command. Encoded as a small self-describing binary or JSON document; decoding
// checks everything (commands come from the Raft log, written by our own nodes, but a
// corrupt or foreign entry must give an error, never a crash).
struct controller_command {
    enum class kind : uint8_t {
        register_node = 1,     // node: adds or updates the node (same id: new addresses; one
                               // without client ports keeps those already known)
        create_topic = 2,      // config: places the partitions over the registered nodes
        delete_topic = 3,      // name
        partition_leader = 4,  // topic_id, partition, node_id, term
    };
    kind type = kind::register_node;
    node_entry node;
    core::topic_config config;
    std::string name;
    uint64_t topic_id = 0;
    uint32_t partition = 0;
    uint64_t node_id = 0;
    uint64_t term = 0;

    bool operator==(const controller_command&) const = default;
};

// Limits on what a command or snapshot may hold (STYLE.md: every outside value has a limit).
inline constexpr size_t max_command_bytes = 64 * 1024;
inline constexpr size_t max_snapshot_bytes = 256u << 20;
inline constexpr size_t max_nodes = 1024;
inline constexpr size_t max_address_bytes = 255;  // raft_address and host

std::vector<std::byte> encode(const controller_command& c);
result<controller_command> decode_controller_command(std::span<const std::byte> bytes);

// Replica placement by rendezvous (highest random weight) hashing: for partition p of topic
// `topic_id`, every node gets the score hash(topic_id, p, node id) and the `count` highest
// scores are the replicas, highest first (the first is the preferred leader). Adding or
// removing a node moves only the partitions whose top `count` changes. Deterministic, and
// independent of the order of `nodes`. REQUIRES: count <= nodes.size().
std::vector<uint64_t> place_replicas(uint64_t topic_id, uint32_t partition,
                                     std::span<const uint64_t> nodes, uint32_t count);

class controller_state {
  public:
    // Applies one command. Errors leave the state unchanged and are the answer to the
    // proposer: invalid_argument (the topic config breaks a rule: validate_topic_config; or
    // a replication factor above the number of registered nodes, the message says how many),
    // already_exists (topic name taken), not_found (delete or leader report of an unknown
    // topic or partition).
    status apply(const controller_command& c);

    const std::map<uint64_t, node_entry>& nodes() const noexcept { return nodes_; }
    const std::map<std::string, topic_entry, std::less<>>& topics() const noexcept {
        return topics_;
    }
    const topic_entry* find_topic(std::string_view name) const;
    const topic_entry* find_topic(uint64_t id) const;
    const node_entry* find_node(uint64_t id) const;
    // Ids at or above this were never assigned to a topic.
    uint64_t next_topic_id() const noexcept { return next_topic_id_; }

    std::vector<std::byte> snapshot() const;
    // Replaces the whole state. Error: invalid_argument (a corrupt snapshot; state unchanged).
    status restore(std::span<const std::byte> bytes);

    bool operator==(const controller_state&) const = default;

  private:
    std::map<uint64_t, node_entry> nodes_;
    std::map<std::string, topic_entry, std::less<>> topics_;
    uint64_t next_topic_id_ = 1;
};

}  // namespace es::replication
