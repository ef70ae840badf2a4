// A node's part in the cluster: it runs the controller group (group 0) and one Raft group per
// replicated partition this node holds a replica of, keeps the engine in step with the
// controller's topic table, and moves each partition's role (leader or not) into the engine.
//
// To the engine it is two interfaces:
//   - core::cluster_hooks: topic admin goes through the controller;
//   - core::durable_backend: a replicated partition's batches go through its Raft group and
//     are acknowledged once a majority holds them and this node applied them to its store;
//     everything else (reads, bounds, lookups) is served by the node's own store.
//
// Threads: libraft callbacks run on the raft_host's loop threads; anything that waits (opening
// or closing groups, engine admin) runs on the cluster's own control thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/cluster_hooks.h"
#include "core/durable_backend.h"
#include "replication/raft_host.h"

namespace es::core {
class engine;
}
namespace es::storage {
class log_store;
}

namespace es::replication {

struct cluster_options {
    uint64_t node_id = 0;
    // Every node of the cluster with its cluster address, this node included. The controller
    // group's voters are all of them.
    std::vector<member> nodes;
    // Directory of the Raft groups' files.
    std::string raft_dir;
    uint32_t loops = 2;
    uint32_t election_timeout_ms = 500;
    uint32_t heartbeat_timeout_ms = 100;
    // Partition groups take a snapshot at most every `snapshot_threshold` applied batches,
    // fewer when batches are large so that about `raft_log_bytes` of Raft log lie between
    // snapshots, and keep `snapshot_trailing` batches (scaled alike) behind it.
    uint32_t snapshot_threshold = 16384;
    uint32_t snapshot_trailing = 2048;
    uint64_t raft_log_bytes = 256ull << 20;
    // Size of the partition groups' Raft log segment files (group_options::segment_bytes); the
    // controller group's are 2 MiB.
    uint64_t raft_segment_bytes = 8ull << 20;
    // Where clients reach this node; registered with the controller, so that a "not leader"
    // answer can name the leader's ports.
    std::string client_host = "127.0.0.1";
    uint16_t native_port = 0;
    uint16_t http_port = 0;
    uint16_t grpc_port = 0;
    // How long a topic admin call waits for the controller.
    uint32_t admin_timeout_ms = 10000;
};

class cluster : public core::cluster_hooks, public core::durable_backend {
  public:
    // `local` is the node's own store service (durable_backend for reads and metadata) over
    // `store`. REQUIRES: both outlive the cluster.
    static std::unique_ptr<cluster> create(cluster_options options, storage::log_store& store,
                                           core::durable_backend& local);
    ~cluster() override = default;

    // Where clients reach this node (registered with the controller). Call before start().
    virtual void set_client_endpoint(std::string host, uint16_t native_port, uint16_t http_port,
                                     uint16_t grpc_port) = 0;
    // Starts the Raft host and the controller group, and opens the partition groups of the
    // topics the engine restored. Call after engine.restore_topics() and before engine.start()
    // publishes. Errors: io_error (cluster port, Raft directory).
    virtual status start(core::engine& engine) = 0;
    // Makes every replicated partition refuse (shutting_down) and answers the publishers still
    // waiting for a Raft commit, so that engine.stop() need not wait for a majority. Call
    // before engine.stop().
    virtual void leave() = 0;
    // Closes every group and stops the Raft host. Call after the engine has stopped.
    virtual void stop() = 0;
    // The cluster port actually bound.
    virtual uint16_t port() const noexcept = 0;

    // For GET /v1/cluster and the metadata request: nodes, the controller's leader, and each
    // partition's replicas and leader as this node knows them, as JSON.
    virtual std::string describe_json() const = 0;
};

}  // namespace es::replication
