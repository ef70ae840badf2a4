// The controller's state: its commands and snapshot as JSON documents, replica placement, and
// the rules each command must satisfy.
//
// Both documents carry a version "v" (format_version below). A command or snapshot of another
// version is refused rather than half understood: every node of a cluster must run a release
// that speaks the log's version, and a later release that changes the format bumps it and
// keeps a reader for the old one.
//
// Command: {"v":1,"type":"register_node","node":NODE}
//          {"v":1,"type":"create_topic","config":CONFIG}
//          {"v":1,"type":"delete_topic","name":"orders"}
//          {"v":1,"type":"partition_leader","topic_id":7,"partition":0,"node_id":2,"term":5}
// Snapshot: {"v":1,"next_topic_id":8,"nodes":[NODE...],
//            "topics":[{"id":7,"config":CONFIG,
//                       "partitions":[{"replicas":[2,1,3],"leader":2,"leader_term":5}...]}...]}
// NODE:   {"id":1,"raft_address":"10.0.0.1:7071","host":"10.0.0.1","native_port":7070,
//          "http_port":8080,"grpc_port":9090}
// CONFIG: {"name":"orders","partitions":3,"storage":"durable","replication_factor":3,
//          "retention_bytes":67108864,"retention_ms":0,"max_event_bytes":1048576}
// Objects must hold exactly their fields, no more and no fewer, so that a garbled entry is
// caught instead of being read as something else.
#include "replication/controller_state.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

namespace es::replication {

namespace {

using json = nlohmann::json;

constexpr uint64_t format_version = 1;
constexpr uint64_t u16_max = std::numeric_limits<uint16_t>::max();
constexpr uint64_t u32_max = std::numeric_limits<uint32_t>::max();
constexpr uint64_t u64_max = std::numeric_limits<uint64_t>::max();

error bad(std::string_view what, std::string_view detail) {
    return make_error(errc::invalid_argument, std::string(what) + ": " + std::string(detail));
}

const char* kind_name(controller_command::kind k) {
    switch (k) {
        case controller_command::kind::register_node:
            return "register_node";
        case controller_command::kind::create_topic:
            return "create_topic";
        case controller_command::kind::delete_topic:
            return "delete_topic";
        case controller_command::kind::partition_leader:
            return "partition_leader";
    }
    return nullptr;
}

// Text to bytes. Strings that are not valid UTF-8 (which nothing of ours produces: names and
// addresses are checked ASCII) are written with U+FFFD in their place rather than throwing.
std::vector<std::byte> to_bytes(const json& j) {
    const std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

// Parses `bytes` as one JSON object of at most `max_bytes`. The parser does not throw
// (allow_exceptions=false) and does not recurse, so any input is safe.
result<json> parse_object(std::span<const std::byte> bytes, size_t max_bytes,
                          std::string_view what) {
    if (bytes.size() > max_bytes) {
        return bad(what, std::to_string(bytes.size()) + " bytes; the limit is " +
                             std::to_string(max_bytes));
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad(what, "not a JSON object");
    return j;
}

// Requires `j` to hold exactly the fields `names`.
status check_fields(const json& j, std::initializer_list<const char*> names,
                    std::string_view what) {
    for (const char* n : names) {
        if (!j.contains(n)) return bad(what, std::string("no field '") + n + "'");
    }
    if (j.size() != names.size()) return bad(what, "unexpected fields");
    return {};
}

result<uint64_t> get_unsigned(const json& j, const char* name, uint64_t max,
                              std::string_view what) {
    const auto it = j.find(name);
    if (it == j.end()) return bad(what, std::string("no field '") + name + "'");
    if (!it->is_number_unsigned()) {
        return bad(what, std::string("'") + name + "' is not a whole number >= 0");
    }
    const auto v = it->get<uint64_t>();
    if (v > max) return bad(what, std::string("'") + name + "' is too large: " + std::to_string(v));
    return v;
}

result<std::string> get_string(const json& j, const char* name, std::string_view what) {
    const auto it = j.find(name);
    if (it == j.end() || !it->is_string()) {
        return bad(what, std::string("no string field '") + name + "'");
    }
    return it->get<std::string>();
}

// Addresses go into logs, error messages and connect calls: printable ASCII without spaces.
status check_address(std::string_view field, std::string_view value, bool may_be_empty) {
    if (value.empty() && !may_be_empty) {
        return make_error(errc::invalid_argument, "node " + std::string(field) + " is empty");
    }
    if (value.size() > max_address_bytes) {
        return make_error(errc::invalid_argument,
                          "node " + std::string(field) + " is " + std::to_string(value.size()) +
                              " bytes; the limit is " + std::to_string(max_address_bytes));
    }
    for (char c : value) {
        if (c <= ' ' || c > '~') {
            return make_error(errc::invalid_argument,
                              "node " + std::string(field) + " may hold only printable ASCII");
        }
    }
    return {};
}

status check_node(const node_entry& n) {
    if (n.id == 0) return make_error(errc::invalid_argument, "node id must be 1 or more");
    ES_TRY(check_address("raft_address", n.raft_address, false));
    ES_TRY(check_address("host", n.host, true));
    return {};
}

json node_to_json(const node_entry& n) {
    return {{"id", n.id},
            {"raft_address", n.raft_address},
            {"host", n.host},
            {"native_port", n.native_port},
            {"http_port", n.http_port},
            {"grpc_port", n.grpc_port}};
}

result<node_entry> node_from_json(const json& j, std::string_view what) {
    if (!j.is_object()) return bad(what, "a node is not an object");
    ES_TRY(check_fields(j, {"id", "raft_address", "host", "native_port", "http_port", "grpc_port"},
                        what));
    node_entry n;
    auto id = get_unsigned(j, "id", u64_max, what);
    if (!id) return std::move(id).err();
    n.id = *id;
    auto raft_address = get_string(j, "raft_address", what);
    if (!raft_address) return std::move(raft_address).err();
    n.raft_address = std::move(*raft_address);
    auto host = get_string(j, "host", what);
    if (!host) return std::move(host).err();
    n.host = std::move(*host);
    auto native_port = get_unsigned(j, "native_port", u16_max, what);
    if (!native_port) return std::move(native_port).err();
    n.native_port = static_cast<uint16_t>(*native_port);
    auto http_port = get_unsigned(j, "http_port", u16_max, what);
    if (!http_port) return std::move(http_port).err();
    n.http_port = static_cast<uint16_t>(*http_port);
    auto grpc_port = get_unsigned(j, "grpc_port", u16_max, what);
    if (!grpc_port) return std::move(grpc_port).err();
    n.grpc_port = static_cast<uint16_t>(*grpc_port);
    // A node that apply would refuse can never be in the log or in a snapshot.
    if (auto s = check_node(n); !s) return bad(what, s.err().message);
    return n;
}

json config_to_json(const core::topic_config& c) {
    return {{"name", c.name},
            {"partitions", c.partitions},
            {"storage", core::storage_mode_name(c.storage)},
            {"replication_factor", c.replication_factor},
            {"retention_bytes", c.retention_bytes},
            {"retention_ms", c.retention_ms},
            {"max_event_bytes", c.max_event_bytes}};
}

// Reads the fields only; the rules (validate_topic_config) are apply's and restore's business.
result<core::topic_config> config_from_json(const json& j, std::string_view what) {
    if (!j.is_object()) return bad(what, "a topic config is not an object");
    ES_TRY(check_fields(j,
                        {"name", "partitions", "storage", "replication_factor", "retention_bytes",
                         "retention_ms", "max_event_bytes"},
                        what));
    core::topic_config c;
    auto name = get_string(j, "name", what);
    if (!name) return std::move(name).err();
    c.name = std::move(*name);
    auto storage = get_string(j, "storage", what);
    if (!storage) return std::move(storage).err();
    auto mode = core::parse_storage_mode(*storage);
    if (!mode) return bad(what, mode.err().message);
    c.storage = *mode;
    auto partitions = get_unsigned(j, "partitions", u32_max, what);
    if (!partitions) return std::move(partitions).err();
    c.partitions = static_cast<uint32_t>(*partitions);
    auto rf = get_unsigned(j, "replication_factor", u32_max, what);
    if (!rf) return std::move(rf).err();
    c.replication_factor = static_cast<uint32_t>(*rf);
    auto retention_bytes = get_unsigned(j, "retention_bytes", u64_max, what);
    if (!retention_bytes) return std::move(retention_bytes).err();
    c.retention_bytes = *retention_bytes;
    auto retention_ms = get_unsigned(j, "retention_ms", u64_max, what);
    if (!retention_ms) return std::move(retention_ms).err();
    c.retention_ms = *retention_ms;
    auto max_event_bytes = get_unsigned(j, "max_event_bytes", u32_max, what);
    if (!max_event_bytes) return std::move(max_event_bytes).err();
    c.max_event_bytes = static_cast<uint32_t>(*max_event_bytes);
    return c;
}

status check_version(const json& j, std::string_view what) {
    auto v = get_unsigned(j, "v", u64_max, what);
    if (!v) return std::move(v).err();
    if (*v != format_version) {
        return bad(what, "version " + std::to_string(*v) + " is not supported (this node reads " +
                             std::to_string(format_version) + ")");
    }
    return {};
}

// splitmix64's finalizer (Steele, Lea, Flood): every input bit flips about half the output
// bits, which rendezvous hashing needs so that scores of nearby ids are unrelated.
constexpr uint64_t mix64(uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

constexpr uint64_t placement_score(uint64_t topic_id, uint32_t partition,
                                   uint64_t node_id) noexcept {
    // Each input goes through a full mix before the next is folded in, so (t, p, n) and
    // (t, n, p) do not collide the way a plain xor of the three would.
    return mix64(mix64(mix64(topic_id) ^ partition) ^ node_id);
}

}  // namespace

std::vector<std::byte> encode(const controller_command& c) {
    json j = {{"v", format_version}};
    const char* name = kind_name(c.type);
    ES_ASSERT_MSG(name != nullptr, "controller_command with an unknown kind");
    j["type"] = name;
    switch (c.type) {
        case controller_command::kind::register_node:
            j["node"] = node_to_json(c.node);
            break;
        case controller_command::kind::create_topic:
            j["config"] = config_to_json(c.config);
            break;
        case controller_command::kind::delete_topic:
            j["name"] = c.name;
            break;
        case controller_command::kind::partition_leader:
            j["topic_id"] = c.topic_id;
            j["partition"] = c.partition;
            j["node_id"] = c.node_id;
            j["term"] = c.term;
            break;
    }
    return to_bytes(j);
}

result<controller_command> decode_controller_command(std::span<const std::byte> bytes) {
    constexpr std::string_view what = "bad controller command";
    auto parsed = parse_object(bytes, max_command_bytes, what);
    if (!parsed) return std::move(parsed).err();
    const json& j = *parsed;
    ES_TRY(check_version(j, what));
    auto type = get_string(j, "type", what);
    if (!type) return std::move(type).err();

    controller_command c;
    if (*type == "register_node") {
        ES_TRY(check_fields(j, {"v", "type", "node"}, what));
        c.type = controller_command::kind::register_node;
        auto node = node_from_json(j["node"], what);
        if (!node) return std::move(node).err();
        c.node = std::move(*node);
    } else if (*type == "create_topic") {
        ES_TRY(check_fields(j, {"v", "type", "config"}, what));
        c.type = controller_command::kind::create_topic;
        auto config = config_from_json(j["config"], what);
        if (!config) return std::move(config).err();
        c.config = std::move(*config);
    } else if (*type == "delete_topic") {
        ES_TRY(check_fields(j, {"v", "type", "name"}, what));
        c.type = controller_command::kind::delete_topic;
        auto name = get_string(j, "name", what);
        if (!name) return std::move(name).err();
        c.name = std::move(*name);
    } else if (*type == "partition_leader") {
        ES_TRY(check_fields(j, {"v", "type", "topic_id", "partition", "node_id", "term"}, what));
        c.type = controller_command::kind::partition_leader;
        auto topic_id = get_unsigned(j, "topic_id", u64_max, what);
        if (!topic_id) return std::move(topic_id).err();
        c.topic_id = *topic_id;
        auto partition = get_unsigned(j, "partition", u32_max, what);
        if (!partition) return std::move(partition).err();
        c.partition = static_cast<uint32_t>(*partition);
        auto node_id = get_unsigned(j, "node_id", u64_max, what);
        if (!node_id) return std::move(node_id).err();
        c.node_id = *node_id;
        auto term = get_unsigned(j, "term", u64_max, what);
        if (!term) return std::move(term).err();
        c.term = *term;
    } else {
        return bad(what, "unknown type '" + *type + "'");
    }
    return c;
}

std::vector<uint64_t> place_replicas(uint64_t topic_id, uint32_t partition,
                                     std::span<const uint64_t> nodes, uint32_t count) {
    // Duplicates in `nodes` would otherwise be picked twice; sorting first also makes the
    // tie-break below (equal scores: lower id first) independent of the input order.
    std::vector<uint64_t> unique(nodes.begin(), nodes.end());
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    ES_ASSERT_MSG(count <= unique.size(), "place_replicas: more replicas than nodes");

    std::vector<std::pair<uint64_t, uint64_t>> scored;  // (score, node id)
    scored.reserve(unique.size());
    for (uint64_t id : unique) scored.emplace_back(placement_score(topic_id, partition, id), id);
    const auto higher = [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    std::partial_sort(scored.begin(), scored.begin() + count, scored.end(), higher);

    std::vector<uint64_t> replicas;
    replicas.reserve(count);
    for (uint32_t i = 0; i < count; ++i) replicas.push_back(scored[i].second);
    return replicas;
}

const topic_entry* controller_state::find_topic(std::string_view name) const {
    const auto it = topics_.find(name);
    return it == topics_.end() ? nullptr : &it->second;
}

const topic_entry* controller_state::find_topic(uint64_t id) const {
    // A linear scan: the topic table is small and leader reports are rare next to the work
    // each one stands for (an election). An index by id would be one more thing to keep true.
    for (const auto& [name, t] : topics_) {
        if (t.id == id) return &t;
    }
    return nullptr;
}

const node_entry* controller_state::find_node(uint64_t id) const {
    const auto it = nodes_.find(id);
    return it == nodes_.end() ? nullptr : &it->second;
}

status controller_state::apply(const controller_command& c) {
    switch (c.type) {
        case controller_command::kind::register_node: {
            ES_TRY(check_node(c.node));
            if (!nodes_.contains(c.node.id) && nodes_.size() >= max_nodes) {
                return make_error(
                    errc::invalid_argument,
                    "the cluster already has the most nodes allowed, " + std::to_string(max_nodes));
            }
            auto it = nodes_.find(c.node.id);
            if (it != nodes_.end() && c.node.http_port == 0 && c.node.native_port == 0 &&
                c.node.grpc_port == 0) {
                // A registration by another node (the controller fills in the static peer
                // list) knows only the cluster address: it must not erase the client ports the
                // node registered itself, whatever order the two reach the log in.
                it->second.raft_address = c.node.raft_address;
                return {};
            }
            nodes_[c.node.id] = c.node;
            return {};
        }
        case controller_command::kind::create_topic: {
            ES_TRY(core::validate_topic_config(c.config));
            if (topics_.contains(c.config.name)) {
                return make_error(errc::already_exists,
                                  "topic '" + c.config.name + "' already exists");
            }
            if (topics_.size() >= core::max_topics) {
                return make_error(errc::invalid_argument,
                                  "the cluster already has the most topics allowed, " +
                                      std::to_string(core::max_topics));
            }
            if (c.config.replication_factor > nodes_.size()) {
                return make_error(
                    errc::invalid_argument,
                    "replication_factor " + std::to_string(c.config.replication_factor) +
                        " needs " + std::to_string(c.config.replication_factor) + " nodes, but " +
                        std::to_string(nodes_.size()) +
                        (nodes_.size() == 1 ? " node is" : " nodes are") + " registered");
            }
            std::vector<uint64_t> node_ids;
            node_ids.reserve(nodes_.size());
            for (const auto& [id, n] : nodes_) node_ids.push_back(id);

            topic_entry t;
            t.config = c.config;
            t.id = next_topic_id_;
            t.partitions.resize(c.config.partitions);
            for (uint32_t p = 0; p < c.config.partitions; ++p) {
                t.partitions[p].replicas =
                    place_replicas(t.id, p, node_ids, c.config.replication_factor);
            }
            topics_.emplace(c.config.name, std::move(t));
            ++next_topic_id_;
            return {};
        }
        case controller_command::kind::delete_topic: {
            const auto it = topics_.find(c.name);
            if (it == topics_.end()) {
                return make_error(errc::not_found, "topic '" + c.name + "' does not exist");
            }
            topics_.erase(it);
            return {};
        }
        case controller_command::kind::partition_leader: {
            topic_entry* t = nullptr;
            for (auto& [name, entry] : topics_) {
                if (entry.id == c.topic_id) t = &entry;
            }
            if (t == nullptr) {
                return make_error(errc::not_found, "no topic has id " + std::to_string(c.topic_id));
            }
            if (c.partition >= t->partitions.size()) {
                return make_error(errc::not_found, "topic '" + t->config.name +
                                                       "' has no partition " +
                                                       std::to_string(c.partition));
            }
            partition_entry& p = t->partitions[c.partition];
            const std::string where =
                "topic '" + t->config.name + "' partition " + std::to_string(c.partition);
            if (std::find(p.replicas.begin(), p.replicas.end(), c.node_id) == p.replicas.end()) {
                return make_error(errc::invalid_argument, "node " + std::to_string(c.node_id) +
                                                              " is not a replica of " + where);
            }
            // Terms only grow, so an older report (delayed, or replayed) must not overwrite a
            // newer one.
            if (c.term < p.leader_term) {
                return make_error(errc::invalid_argument, "stale leader report for " + where +
                                                              ": term " + std::to_string(c.term) +
                                                              " is below the term held, " +
                                                              std::to_string(p.leader_term));
            }
            p.leader = c.node_id;
            p.leader_term = c.term;
            return {};
        }
    }
    return make_error(errc::invalid_argument, "unknown controller command kind " +
                                                  std::to_string(static_cast<int>(c.type)));
}

std::vector<std::byte> controller_state::snapshot() const {
    json nodes = json::array();
    for (const auto& [id, n] : nodes_) nodes.push_back(node_to_json(n));
    json topics = json::array();
    for (const auto& [name, t] : topics_) {
        json partitions = json::array();
        for (const partition_entry& p : t.partitions) {
            partitions.push_back(
                {{"replicas", p.replicas}, {"leader", p.leader}, {"leader_term", p.leader_term}});
        }
        topics.push_back(
            {{"id", t.id}, {"config", config_to_json(t.config)}, {"partitions", partitions}});
    }
    const json j = {{"v", format_version},
                    {"next_topic_id", next_topic_id_},
                    {"nodes", std::move(nodes)},
                    {"topics", std::move(topics)}};
    return to_bytes(j);
}

namespace {

// One partition of topic `t` from the snapshot: the replicas must be as many as the
// replication factor, distinct and registered, and a leader must be one of them.
result<partition_entry> partition_from_json(const json& j, const core::topic_config& config,
                                            const std::map<uint64_t, node_entry>& nodes,
                                            std::string_view what) {
    if (!j.is_object()) return bad(what, "a partition is not an object");
    ES_TRY(check_fields(j, {"replicas", "leader", "leader_term"}, what));
    const std::string where = "topic '" + config.name + "'";
    const json& replicas = j["replicas"];
    if (!replicas.is_array() || replicas.size() != config.replication_factor) {
        return bad(what, where + " has a partition whose replicas are not " +
                             std::to_string(config.replication_factor) + " node ids");
    }
    partition_entry p;
    for (const json& r : replicas) {
        if (!r.is_number_unsigned()) return bad(what, where + " has a replica that is not an id");
        const auto id = r.get<uint64_t>();
        if (!nodes.contains(id)) {
            return bad(what, where + " has a replica on unregistered node " + std::to_string(id));
        }
        if (std::find(p.replicas.begin(), p.replicas.end(), id) != p.replicas.end()) {
            return bad(what, where + " has node " + std::to_string(id) + " twice in a partition");
        }
        p.replicas.push_back(id);
    }
    auto leader = get_unsigned(j, "leader", u64_max, what);
    if (!leader) return std::move(leader).err();
    p.leader = *leader;
    auto leader_term = get_unsigned(j, "leader_term", u64_max, what);
    if (!leader_term) return std::move(leader_term).err();
    p.leader_term = *leader_term;
    // apply records a leader only among the replicas and never records node 0, so "no
    // leader" always comes with term 0.
    if (p.leader == 0
            ? p.leader_term != 0
            : std::find(p.replicas.begin(), p.replicas.end(), p.leader) == p.replicas.end()) {
        return bad(what, where + " has a partition leader that is not one of its replicas");
    }
    return p;
}

}  // namespace

status controller_state::restore(std::span<const std::byte> bytes) {
    constexpr std::string_view what = "bad controller snapshot";
    auto parsed = parse_object(bytes, max_snapshot_bytes, what);
    if (!parsed) return std::move(parsed).err();
    const json& j = *parsed;
    ES_TRY(check_version(j, what));
    ES_TRY(check_fields(j, {"v", "next_topic_id", "nodes", "topics"}, what));

    // Everything is built aside and checked; *this changes only at the end, all at once.
    controller_state s;
    auto next = get_unsigned(j, "next_topic_id", u64_max, what);
    if (!next) return std::move(next).err();
    if (*next == 0) return bad(what, "next_topic_id is 0");
    s.next_topic_id_ = *next;

    const json& nodes = j["nodes"];
    if (!nodes.is_array()) return bad(what, "'nodes' is not an array");
    if (nodes.size() > max_nodes) return bad(what, "more nodes than allowed");
    for (const json& n : nodes) {
        auto node = node_from_json(n, what);
        if (!node) return std::move(node).err();
        const uint64_t id = node->id;
        if (!s.nodes_.emplace(id, std::move(*node)).second) {
            return bad(what, "node " + std::to_string(id) + " is listed twice");
        }
    }

    const json& topics = j["topics"];
    if (!topics.is_array()) return bad(what, "'topics' is not an array");
    if (topics.size() > core::max_topics) return bad(what, "more topics than allowed");
    std::set<uint64_t> ids;
    for (const json& tj : topics) {
        if (!tj.is_object()) return bad(what, "a topic is not an object");
        ES_TRY(check_fields(tj, {"id", "config", "partitions"}, what));
        topic_entry t;
        auto config = config_from_json(tj["config"], what);
        if (!config) return std::move(config).err();
        t.config = std::move(*config);
        if (auto valid = core::validate_topic_config(t.config); !valid) {
            return bad(what, valid.err().message);
        }
        const std::string where = "topic '" + t.config.name + "'";
        auto id = get_unsigned(tj, "id", u64_max, what);
        if (!id) return std::move(id).err();
        t.id = *id;
        if (t.id == 0 || t.id >= s.next_topic_id_) {
            return bad(what,
                       where + " has id " + std::to_string(t.id) + ", outside 1..next_topic_id-1");
        }
        if (!ids.insert(t.id).second) {
            return bad(what, "topic id " + std::to_string(t.id) + " is used twice");
        }
        const json& partitions = tj["partitions"];
        if (!partitions.is_array() || partitions.size() != t.config.partitions) {
            return bad(what, where + " does not list " + std::to_string(t.config.partitions) +
                                 " partitions");
        }
        for (const json& pj : partitions) {
            auto p = partition_from_json(pj, t.config, s.nodes_, what);
            if (!p) return std::move(p).err();
            t.partitions.push_back(std::move(*p));
        }
        std::string name = t.config.name;
        if (!s.topics_.emplace(std::move(name), std::move(t)).second) {
            return bad(what, where + " is listed twice");
        }
    }

    *this = std::move(s);
    return {};
}

}  // namespace es::replication
