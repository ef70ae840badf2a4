// The cluster: controller group, partition groups, and the engine kept in step with both.
#include "replication/cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/engine.h"
#include "replication/cluster_rpc.h"
#include "replication/controller_machine.h"
#include "replication/partition_machine.h"
#include "replication/raft_preamble.h"
#include "storage/log_store.h"

namespace es::replication {
namespace {

constexpr uint64_t controller_group = 0;
// Segment size of the controller group's Raft log (partition groups: raft_segment_bytes).
constexpr size_t k_controller_segment_bytes = 2u << 20;

// A partition's group id: the topic id above 12 bits of partition (max_partitions is 4096).
// Topic ids start at 1, so no partition group is group 0.
uint64_t partition_group_id(uint64_t topic_id, uint32_t partition) {
    static_assert(core::max_partitions <= 4096);
    return (topic_id << 12) | partition;
}

// Runs tasks one at a time on its own thread, in order.
class task_thread {
  public:
    task_thread() : thread_([this] { run(); }) {}
    ~task_thread() { stop(); }

    void post(std::function<void()> f) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            tasks_.push_back(std::move(f));
        }
        cv_.notify_one();
    }
    // Waits until every task posted before the call has run.
    void drain() {
        if (std::this_thread::get_id() == thread_.get_id()) return;
        std::promise<void> done;
        auto f = done.get_future();
        post([&done] { done.set_value(); });
        if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
            spdlog::warn("cluster: control thread busy for 60 s");
        }
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            stopping_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

  private:
    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping, and nothing left
            auto f = std::move(tasks_.front());
            tasks_.pop_front();
            lock.unlock();
            f();
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread thread_;
};

class cluster_impl final : public cluster {
  public:
    cluster_impl(cluster_options options, storage::log_store& store, core::durable_backend& local)
        : options_(std::move(options)), store_(store), local_(local) {}

    ~cluster_impl() override { stop(); }

    status start(core::engine& engine) override {
        engine_ = &engine;
        const member* self = nullptr;
        for (const member& m : options_.nodes) {
            if (m.id == options_.node_id) self = &m;
        }
        if (self == nullptr) {
            return make_error(errc::config_error, "peers: this node (id " +
                                                      std::to_string(options_.node_id) +
                                                      ") is not among the cluster's nodes");
        }
        host_options ho;
        ho.node_id = options_.node_id;
        ho.address = self->address;
        ho.dir = options_.raft_dir;
        ho.loops = options_.loops;
        std::vector<std::pair<uint64_t, std::string>> members;
        for (const member& m : options_.nodes) members.emplace_back(m.id, m.address);
        ho.cluster_id = cluster_id_of(std::move(members));
        spdlog::info("cluster: node {} of {} nodes, cluster id {:016x}", options_.node_id,
                     options_.nodes.size(), ho.cluster_id);
        auto host = raft_host::start(ho);
        if (!host) return std::move(host).err();
        host_ = std::move(*host);
        host_->set_rpc_handler(
            [this](uint64_t from, std::vector<std::byte> request, rpc_reply reply) {
                reply(handle_rpc(from, std::move(request)));
            });

        controller_ = std::make_shared<controller_machine>(
            [this](const controller_command&, const controller_state&) {
                control_.post([this] { reconcile(); });
            },
            [this](const controller_state&) { control_.post([this] { reconcile(); }); });
        group_options go;
        go.group_id = controller_group;
        go.voters = options_.nodes;
        go.election_timeout_ms = options_.election_timeout_ms;
        go.heartbeat_timeout_ms = options_.heartbeat_timeout_ms;
        // The controller's commands are small: its segments need not be large.
        go.segment_bytes = k_controller_segment_bytes;
        go.on_change = [this](const group_view& v) {
            control_.post([this, v] { on_controller_change(v); });
        };
        auto g = host_->open_group(go, controller_);
        if (!g) return std::move(g).err();
        controller_group_ = std::move(*g);
        // Callbacks may have run already (a lone node elects itself at once): what they skipped
        // before the group was ready, do now.
        ready_.store(true, std::memory_order_release);
        control_.post([this] { on_controller_change(controller_group_->view()); });
        // Topics restored from disk refuse publishes until the controller's log, replayed once
        // its group has a leader, gives their replicas: then their groups open (reconcile).
        return {};
    }

    void leave() override {
        if (engine_ == nullptr || !ready_.load(std::memory_order_acquire)) return;  // not started
        // Every partition refuses from now on, and publishers waiting for a Raft commit are
        // answered, so that the engine can stop without waiting for a majority.
        for (const auto& info : engine_->list_topics()) {
            auto tp = engine_->find_topic(info.config.name);
            if (!tp || (*tp)->durable.empty()) continue;
            for (uint32_t p = 0; p < info.partitions.size(); ++p) {
                engine_->set_replica_role(*tp, p, false, 0,
                                          error{errc::shutting_down, "the node is stopping"});
            }
        }
    }

    void stop() override {
        if (stopped_) return;
        stopped_ = true;
        // A report or registration waiting on the controller would hold up the joins below
        // for the rest of its time-out.
        if (host_) host_->stop_calls();
        reporter_.stop();
        control_.stop();
        host_.reset();  // closes every group
    }

    uint16_t port() const noexcept override { return host_ ? host_->port() : 0; }

    void set_client_endpoint(std::string host, uint16_t native_port, uint16_t http_port,
                             uint16_t grpc_port) override {
        options_.client_host = std::move(host);
        options_.native_port = native_port;
        options_.http_port = http_port;
        options_.grpc_port = grpc_port;
    }

    // --- cluster_hooks ---

    result<core::topic_info> create_topic(const core::topic_config& config) override {
        if (config.storage != core::storage_mode::durable) {
            return make_error(errc::invalid_argument,
                              "storage: a cluster replicates durable topics only; memory topics "
                              "are not replicated yet (use storage=durable)");
        }
        ES_TRY(core::validate_topic_config(config));
        // Replicas are placed over the registered nodes. The controller registers every node of
        // the static list when it is elected; a create that comes first registers the missing
        // ones itself, ahead of it in the log.
        for (const controller_command& r : missing_registrations())
            ES_TRY(propose_to_controller(r));
        controller_command c;
        c.type = controller_command::kind::create_topic;
        c.config = config;
        ES_TRY(propose_to_controller(c));
        // Committed; this node applies it with the next message from the controller, and the
        // topic is in the engine once the reconcile that follows has run.
        ES_TRY(wait_for_state(
            [&](const controller_state& s) { return s.find_topic(config.name) != nullptr; }));
        control_.drain();
        return engine_->describe_topic(config.name);
    }

    status delete_topic(std::string_view name) override {
        controller_command c;
        c.type = controller_command::kind::delete_topic;
        c.name = std::string(name);
        ES_TRY(propose_to_controller(c));
        ES_TRY(wait_for_state(
            [&](const controller_state& s) { return s.find_topic(name) == nullptr; }));
        control_.drain();
        return {};
    }

    // --- durable_backend: the node's own store, except writes and group commits ---

    result<std::vector<core::durable_topic>> topics() override { return local_.topics(); }
    uint64_t next_topic_id() override { return local_.next_topic_id(); }
    status create_topic(const core::durable_topic& t) override { return local_.create_topic(t); }
    status drop_topic(uint64_t topic_id) override { return local_.drop_topic(topic_id); }
    result<core::durable_bounds> bounds(uint64_t topic_id, uint32_t partition) override {
        return local_.bounds(topic_id, partition);
    }
    // Any replica serves an event by offset: a member stores only what its group committed.
    result<std::optional<core::event_record>> lookup(uint64_t topic_id, uint32_t partition,
                                                     uint64_t offset) override {
        ES_TRY(replica_group(topic_id, partition));
        return local_.lookup(topic_id, partition, offset);
    }
    result<uint64_t> offset_for_timestamp(uint64_t topic_id, uint32_t partition,
                                          int64_t ts_ns) override {
        return local_.offset_for_timestamp(topic_id, partition, ts_ns);
    }
    // The engine asks only where the partition serves (engine::check_served): its leader,
    // past the barrier of its term.
    result<std::optional<uint64_t>> committed_offset(uint64_t topic_id, std::string_view group,
                                                     uint32_t partition) override {
        ES_TRY(replica_group(topic_id, partition));
        return local_.committed_offset(topic_id, group, partition);
    }
    void read(uint64_t topic_id, uint32_t partition, uint64_t from, uint32_t max_events,
              size_t max_bytes, std::function<void(result<core::durable_chunk>)> done) override {
        local_.read(topic_id, partition, from, max_events, max_bytes, std::move(done));
    }

    status commit_offset(uint64_t topic_id, std::string_view group, uint32_t partition,
                         uint64_t offset) override {
        auto done = std::make_shared<std::promise<status>>();
        auto f = done->get_future();
        commit_offset_async(topic_id, group, partition, offset,
                            [done](status s) { done->set_value(std::move(s)); });
        if (f.wait_for(std::chrono::milliseconds(options_.admin_timeout_ms)) !=
            std::future_status::ready) {
            return make_error(errc::timed_out, "the partition's replicas did not commit in time");
        }
        return f.get();
    }

    void commit_offset_async(uint64_t topic_id, std::string_view group, uint32_t partition,
                             uint64_t offset, std::function<void(status)> done) override {
        auto g = replica_group(topic_id, partition);
        if (!g) return done(std::move(g).err());
        // libraft answers every proposal: committed, or failed when leadership is lost.
        (*g)->propose(encode_commit_command(group, offset),
                      [done = std::move(done)](status s, uint64_t) { done(std::move(s)); });
    }

    void write(std::unique_ptr<core::durable_write> w) override {
        auto g = find_group(partition_group_id(w->topic_id, w->partition));
        std::shared_ptr<core::durable_progress> progress = w->progress;
        if (!g) {
            progress->failure.store(errc::not_leader, std::memory_order_release);
            if (progress->notify) progress->notify();
            return;
        }
        const uint64_t end = w->base_offset + w->count;
        g->propose(encode_batch_command(w->base_offset, w->count, w->records, w->producers),
                   [progress, end](status s, uint64_t) {
                       // On the loop thread, once this node applied it (and so a majority
                       // holds it), or failed.
                       if (s) {
                           uint64_t cur = progress->durable_end.load(std::memory_order_relaxed);
                           while (cur < end && !progress->durable_end.compare_exchange_weak(
                                                   cur, end, std::memory_order_release)) {
                           }
                       } else {
                           errc expected = errc::ok;
                           progress->failure.compare_exchange_strong(expected, s.err().code);
                       }
                       if (progress->notify) progress->notify();
                   });
    }

    core::cluster_layout layout() const override {
        core::cluster_layout out;
        if (!ready_.load(std::memory_order_acquire)) return out;  // not started
        const controller_state state = controller_->copy();
        for (const member& m : options_.nodes) {
            if (const node_entry* e = state.find_node(m.id)) {
                out.nodes.push_back({static_cast<uint32_t>(m.id), e->host, e->native_port});
            }
        }
        for (const auto& [name, t] : state.topics()) {
            std::vector<uint32_t>& leaders = out.leaders[name];
            leaders.reserve(t.partitions.size());
            for (uint32_t p = 0; p < t.partitions.size(); ++p) {
                leaders.push_back(static_cast<uint32_t>(leader_of(t, p)));
            }
        }
        return out;
    }

    std::string describe_json() const override {
        if (!ready_.load(std::memory_order_acquire)) return "{}";  // not started
        nlohmann::json doc;
        doc["node_id"] = options_.node_id;
        const controller_state state = controller_->copy();
        nlohmann::json nodes = nlohmann::json::array();
        for (const member& m : options_.nodes) {
            nlohmann::json n = {{"id", m.id}, {"cluster_address", m.address}};
            if (const node_entry* e = state.find_node(m.id)) {
                n["host"] = e->host;
                n["native_port"] = e->native_port;
                n["http_port"] = e->http_port;
                n["grpc_port"] = e->grpc_port;
            }
            nodes.push_back(n);
        }
        doc["nodes"] = nodes;
        const group_view cv = controller_group_->view();
        doc["controller"] = cv.leader ? nlohmann::json(cv.leader->id) : nlohmann::json(nullptr);
        nlohmann::json topics = nlohmann::json::array();
        for (const auto& [name, t] : state.topics()) {
            nlohmann::json parts = nlohmann::json::array();
            for (uint32_t p = 0; p < t.partitions.size(); ++p) {
                nlohmann::json pj = {{"partition", p}, {"replicas", t.partitions[p].replicas}};
                const uint64_t leader = leader_of(t, p);
                pj["leader"] = leader == 0 ? nlohmann::json(nullptr) : nlohmann::json(leader);
                parts.push_back(pj);
            }
            topics.push_back({{"name", name}, {"id", t.id}, {"partitions", parts}});
        }
        doc["topics"] = topics;
        return doc.dump();
    }

  private:
    // Partition p's leader as this node knows it: its own group's view where it holds a
    // replica, else the last leader a replica reported to the controller; 0: none known.
    uint64_t leader_of(const topic_entry& t, uint32_t p) const {
        if (auto g = find_group(partition_group_id(t.id, p))) {
            const group_view v = g->view();
            return v.leader ? v.leader->id : 0;
        }
        return t.partitions[p].leader;
    }

    // The partition's group on this node, or why there is none (not_replica).
    result<std::shared_ptr<raft_group>> replica_group(uint64_t topic_id, uint32_t partition) const {
        if (auto g = find_group(partition_group_id(topic_id, partition))) return g;
        return not_replica(topic_id, partition);
    }

    // The partition's group is not open here: this node holds no replica of it (or not yet).
    error not_replica(uint64_t topic_id, uint32_t partition) const {
        if (!ready_.load(std::memory_order_acquire)) {
            return error{errc::unavailable, "the node is still joining its cluster"};
        }
        const controller_state state = controller_->copy();
        const topic_entry* t = state.find_topic(topic_id);
        if (t == nullptr || partition >= t->partitions.size()) {
            return error{errc::not_leader, "this node holds no replica of the partition"};
        }
        const partition_entry& placed = t->partitions[partition];
        const std::string where = t->config.name + "/" + std::to_string(partition) + ": ";
        if (std::find(placed.replicas.begin(), placed.replicas.end(), options_.node_id) !=
            placed.replicas.end()) {
            return error{errc::unavailable, where + "its replica on this node is opening"};
        }
        return error{errc::not_leader, where + not_replica_text(placed, state)};
    }

    std::shared_ptr<raft_group> find_group(uint64_t id) const {
        std::lock_guard lock(groups_mutex_);
        auto it = groups_.find(id);
        return it == groups_.end() ? nullptr : it->second;
    }

    // Waits until this node's copy of the controller state satisfies `ready` (a change the
    // controller committed reaches a follower with the leader's next message).
    status wait_for_state(const std::function<bool(const controller_state&)>& ready) {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.admin_timeout_ms);
        for (;;) {
            bool done = false;
            controller_->read([&](const controller_state& s) { done = ready(s); });
            if (done) return {};
            if (std::chrono::steady_clock::now() > deadline) {
                return make_error(errc::timed_out,
                                  "the controller committed the change, but it did not reach "
                                  "this node in time");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    // Proposes to the controller group on this node and waits for the outcome.
    status propose_locally(std::span<const std::byte> command) {
        auto done = std::make_shared<std::promise<status>>();
        auto f = done->get_future();
        controller_group_->propose(std::vector<std::byte>(command.begin(), command.end()),
                                   [done](status s, uint64_t) { done->set_value(std::move(s)); });
        if (f.wait_for(std::chrono::milliseconds(options_.admin_timeout_ms)) !=
            std::future_status::ready) {
            return make_error(errc::timed_out, "the controller did not commit the change in " +
                                                   std::to_string(options_.admin_timeout_ms) +
                                                   " ms");
        }
        return f.get();
    }

    // Proposes to the controller: here when this node leads group 0, else forwarded to the
    // leader over the cluster port. A leader that moved meanwhile is followed a few times.
    status propose_to_controller(const controller_command& c) {
        if (!ready_.load(std::memory_order_acquire)) {
            return make_error(errc::unavailable, "the controller group is still opening");
        }
        if (stopped_) return make_error(errc::shutting_down, "the node is stopping");
        const std::vector<std::byte> command = encode(c);
        status s = make_error(errc::unavailable, "no controller elected yet; retry shortly");
        for (int attempt = 0; attempt < 5; ++attempt) {
            if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
            if (stopped_) return make_error(errc::shutting_down, "the node is stopping");
            const group_view v = controller_group_->view();
            if (v.self == role::leader || !v.leader) {
                if (v.self != role::leader && !v.leader) continue;  // an election is running
                s = propose_locally(command);
            } else {
                auto r = host_->call(v.leader->address, encode_forward(command),
                                     std::chrono::milliseconds(options_.admin_timeout_ms));
                s = r ? status{} : status{std::move(r).err()};
            }
            // not_leader: the leader moved; unavailable: it could not be reached. Both pass.
            if (s || (s.err().code != errc::not_leader && s.err().code != errc::unavailable)) {
                return s;
            }
        }
        return s;
    }

    // A request from another node (on one of the host's rpc threads).
    result<std::vector<std::byte>> handle_rpc(uint64_t from, std::vector<std::byte> bytes) {
        auto request = decode_rpc_request(bytes);
        if (!request) return std::move(request).err();
        if (stopped_) return make_error(errc::shutting_down, "the node is stopping");
        if (!ready_.load(std::memory_order_acquire)) {
            return make_error(errc::unavailable, "the controller group is still opening");
        }
        if (request->kind == rpc_kind::forward_controller) {
            // Proposed here only, never forwarded again: a node that is not the leader any more
            // answers not_leader and the sender looks again.
            if (controller_group_->view().self != role::leader) {
                return make_error(errc::not_leader, "node " + std::to_string(options_.node_id) +
                                                        " is not the controller");
            }
            ES_TRY(propose_locally(request->command));
            return std::vector<std::byte>{};
        }
        const fetch_request& f = request->fetch;
        auto b = store_.bounds(f.topic_id, f.partition);
        if (!b) return std::move(b).err();
        std::vector<std::byte> records;
        uint32_t count = 0;
        if (f.from >= b->start_offset && f.from < b->end_offset) {
            auto r =
                store_.read(f.topic_id, f.partition, f.from, f.max_events, f.max_bytes, records);
            if (!r) return std::move(r).err();
            count = r->count;
        }
        spdlog::debug("cluster: node {} fetched {} event(s) of topic {}/{} from {}", from, count,
                      f.topic_id, f.partition, f.from);
        return encode_fetch_reply(b->start_offset, b->end_offset, count, records);
    }

    // Catch-up for a snapshot install (partition_machine::catch_up_fn): fetches [from, end) of
    // the partition from the other replicas, in chunks, into this node's store. It runs on a
    // thread of its own, so that the loop thread that waits for it never calls the network.
    status catch_up(uint64_t topic_id, uint32_t partition, uint64_t from, uint64_t end,
                    const std::vector<member>& sources) {
        auto task = std::async(std::launch::async, [&]() -> status {
            uint64_t next = from;
            std::string last_error = "no other replica to fetch from";
            for (int round = 0; round < 3 && next < end; ++round) {
                // Sources that no longer hold `next` (retention), and the lowest offset they
                // start at.
                size_t gone = 0;
                uint64_t gone_until = UINT64_MAX;
                for (const member& m : sources) {
                    while (next < end) {
                        auto r = host_->call(m.address,
                                             encode_fetch({topic_id, partition, next,
                                                           static_cast<uint32_t>(std::min<uint64_t>(
                                                               end - next, UINT32_MAX)),
                                                           4u << 20}),
                                             std::chrono::milliseconds(options_.admin_timeout_ms));
                        if (!r) {
                            last_error = "node " + std::to_string(m.id) + ": " + r.err().message;
                            break;
                        }
                        auto reply = decode_fetch_reply(*r, next);
                        if (!reply) return std::move(reply).err();
                        if (reply->count > end - next) {
                            return make_error(errc::invalid_argument,
                                              "node " + std::to_string(m.id) +
                                                  " sent more events than asked for");
                        }
                        if (reply->count == 0) {
                            if (reply->start_offset > next) {
                                ++gone;
                                gone_until = std::min(gone_until, reply->start_offset);
                            }
                            last_error = "node " + std::to_string(m.id) + " holds offsets " +
                                         std::to_string(reply->start_offset) + ".." +
                                         std::to_string(reply->end_offset) + ", not " +
                                         std::to_string(next);
                            break;
                        }
                        const storage::append_batch batch{
                            topic_id, partition, next,
                            core::record_run{reply->records.data(), reply->records.size(),
                                             reply->count}};
                        ES_TRY(store_.append(std::span(&batch, 1), false));
                        next += reply->count;
                        gone = 0;
                        gone_until = UINT64_MAX;
                    }
                    if (next >= end) {
                        spdlog::info(
                            "cluster: caught up topic {}/{} from offset {} to {} from "
                            "node {} before installing a snapshot",
                            topic_id, partition, from, end, m.id);
                        break;
                    }
                }
                // Only on the word of every other replica: none at all (one replica) is no word.
                if (next < end && !sources.empty() && gone == sources.size()) {
                    // Gone by retention on every other replica: this replica starts where they
                    // do, as a Kafka follower truncates to its leader's log start, rather
                    // than fail every install of the snapshot for ever.
                    const uint64_t to = std::min(gone_until, end);
                    ES_TRY(store_.skip_to(topic_id, partition, to));
                    spdlog::warn(
                        "cluster: offsets {}..{} of topic {}/{} are gone by retention on every "
                        "other replica; this replica now starts at {}",
                        next, to - 1, topic_id, partition, to);
                    next = to;
                    --round;  // not a failed round
                }
            }
            if (next >= end) return {};
            return make_error(errc::unavailable, "cannot fetch offsets " + std::to_string(next) +
                                                     ".." + std::to_string(end) +
                                                     " for a snapshot: " + last_error);
        });
        return task.get();
    }

    // Registrations the controller's node table lacks: this node with its client ports (so
    // that clients told "not leader" can find it), and the other nodes of the static list with
    // their cluster addresses (their client ports come when they register themselves).
    std::vector<controller_command> missing_registrations() const {
        controller_command self;
        self.type = controller_command::kind::register_node;
        self.node.id = options_.node_id;
        for (const member& m : options_.nodes) {
            if (m.id == options_.node_id) self.node.raft_address = m.address;
        }
        self.node.host = options_.client_host;
        self.node.native_port = options_.native_port;
        self.node.http_port = options_.http_port;
        self.node.grpc_port = options_.grpc_port;
        const controller_state state = controller_->copy();
        std::vector<controller_command> cmds;
        if (const node_entry* e = state.find_node(self.node.id);
            e == nullptr || !(*e == self.node)) {
            cmds.push_back(self);
        }
        for (const member& m : options_.nodes) {
            if (m.id == options_.node_id || state.find_node(m.id) != nullptr) continue;
            controller_command o;
            o.type = controller_command::kind::register_node;
            o.node.id = m.id;
            o.node.raft_address = m.address;
            cmds.push_back(o);
        }
        return cmds;
    }

    // --- control thread ---

    void on_controller_change(const group_view& v) {
        if (!v.leader || stopped_ || !ready_.load(std::memory_order_acquire)) return;
        // The controller registers every node it lacks; any other node registers itself (its
        // client ports), through the controller. On the reporter thread: the proposals wait
        // for the controller, which the control thread must not. One task at most waits: it
        // looks at the controller as it is when it runs.
        if (registration_pending_.exchange(true)) return;
        reporter_.post([this] {
            registration_pending_.store(false);
            const bool leading = controller_group_->view().self == role::leader;
            for (const controller_command& cmd : missing_registrations()) {
                if (!leading && cmd.node.id != options_.node_id) continue;
                if (auto s = propose_to_controller(cmd); !s) {
                    spdlog::info("cluster: registration of node {} not committed yet: {}",
                                 cmd.node.id, s.err().message);
                }
            }
        });
    }

    // Brings the engine and the open partition groups in line with the controller's state.
    void reconcile() {
        if (stopped_) return;
        const controller_state state = controller_->copy();
        // A topic here whose id the controller has assigned but no longer lists was deleted.
        // First: a topic made again under its name (while this node was down) is created
        // below only once the old one is gone.
        for (const auto& info : engine_->list_topics()) {
            if (info.id >= state.next_topic_id() || state.find_topic(info.id) != nullptr) continue;
            for (uint32_t p = 0; p < info.partitions.size(); ++p) {
                const uint64_t gid = partition_group_id(info.id, p);
                {
                    std::lock_guard lock(groups_mutex_);
                    groups_.erase(gid);
                    machines_.erase(gid);
                    leading_term_.erase(gid);
                }
                // Open or not (deleted while this node was down), its Raft files go.
                if (auto s = host_->close_group(gid, true); !s) {
                    spdlog::error("cluster: cannot remove the Raft group of {}/{}: {}",
                                  info.config.name, p, s.err().message);
                }
                refusals_.erase({info.id, p});
            }
            if (auto s = engine_->delete_local_topic(info.config.name); !s) {
                spdlog::error("cluster: cannot delete topic '{}' here: {}", info.config.name,
                              s.err().message);
            }
        }
        for (const auto& [name, t] : state.topics()) {
            auto tp = engine_->create_replicated_topic(t.config, t.id);
            if (!tp) {
                spdlog::error("cluster: cannot create topic '{}' (id {}) here: {}", name, t.id,
                              tp.err().message);
                continue;
            }
            open_partitions(*tp, t, state);
        }
    }

    // Opens the group of every partition of `t` (as the controller's `entry` places it) this
    // node is a replica of; the others refuse, naming the replicas.
    void open_partitions(const core::topic_ptr& t, const topic_entry& entry,
                         const controller_state& state) {
        for (uint32_t p = 0; p < t->partitions.size() && p < entry.partitions.size(); ++p) {
            const uint64_t gid = partition_group_id(t->id, p);
            if (find_group(gid)) continue;
            const partition_entry& placed = entry.partitions[p];
            std::vector<member> voters;
            bool mine = false;
            for (uint64_t id : placed.replicas) {
                mine |= id == options_.node_id;
                for (const member& m : options_.nodes) {
                    if (m.id == id) voters.push_back(m);
                }
            }
            if (!mine) {
                refuse_not_replica(t, p, placed, state);
                continue;
            }
            group_options go;
            go.group_id = gid;
            go.voters = voters;
            go.election_timeout_ms = options_.election_timeout_ms;
            go.heartbeat_timeout_ms = options_.heartbeat_timeout_ms;
            // A snapshot lets libraft drop the log entries before it; a replica behind it then
            // installs the snapshot, fetching the events it lacks first (catch_up).
            go.snapshot_threshold = options_.snapshot_threshold;
            go.snapshot_trailing = options_.snapshot_trailing;
            go.segment_bytes = options_.raft_segment_bytes;
            std::weak_ptr<core::topic> weak = t;
            go.on_change = [this, weak, p, gid](const group_view& v) {
                control_.post([this, weak, p, gid, v] {
                    if (auto tp = weak.lock()) on_partition_change(tp, p, gid, v);
                });
            };
            std::vector<member> sources;
            for (const member& m : voters) {
                if (m.id != options_.node_id) sources.push_back(m);
            }
            auto machine = std::make_shared<partition_machine>(
                store_, t->id, p,
                [this, sources](uint64_t topic_id, uint32_t partition, uint64_t from,
                                uint64_t end) {
                    return catch_up(topic_id, partition, from, end, sources);
                },
                snapshot_sizing{options_.raft_log_bytes, options_.snapshot_threshold,
                                options_.snapshot_trailing,
                                [this, gid](uint32_t threshold, uint32_t trailing) {
                                    if (auto g = find_group(gid)) {
                                        g->set_snapshot_threshold(threshold, trailing);
                                    }
                                }});
            auto g = host_->open_group(go, machine);
            if (!g) {
                spdlog::error("cluster: cannot open the group of {}/{}: {}", t->config.name, p,
                              g.err().message);
                continue;
            }
            std::shared_ptr<raft_group> group = *g;
            {
                std::lock_guard lock(groups_mutex_);
                groups_[gid] = std::move(*g);
                machines_[gid] = std::move(machine);
            }
            // A change reported before the group was in groups_ found nothing to act on: act
            // on the group's state as it is now (a later change comes after this, in order).
            control_.post([this, weak = std::weak_ptr<core::topic>(t), p, gid, group] {
                if (auto tp = weak.lock()) on_partition_change(tp, p, gid, group->view());
            });
        }
    }

    // A partition this node holds no replica of refuses, naming its leader as the controller
    // last heard of it, else its replicas. Set again only when that text changes.
    void refuse_not_replica(const core::topic_ptr& t, uint32_t p, const partition_entry& placed,
                            const controller_state& state) {
        std::string text = not_replica_text(placed, state);
        std::string& last = refusals_[{t->id, p}];
        if (last == text) return;
        last = text;
        engine_->set_replica_role(t, p, false, 0, error{errc::not_leader, text});
    }

    static std::string not_replica_text(const partition_entry& placed,
                                        const controller_state& state) {
        std::string names;
        for (uint64_t id : placed.replicas) {
            names += (names.empty() ? "" : ", ") + std::to_string(id);
        }
        std::string text =
            "this node holds no replica of it (its replicas are nodes " + names + ")";
        if (placed.leader != 0) text += "; " + leader_text(placed.leader, state);
        return text;
    }

    // "leader is node 2 at 127.0.0.1:7171 (host ..., native port ..., ...)": the cluster
    // address, and the client ports once that node has registered them.
    static std::string leader_text(uint64_t leader, const controller_state& state,
                                   const std::string& raft_address = {}) {
        const node_entry* e = state.find_node(leader);
        std::string s = "leader is node " + std::to_string(leader);
        const std::string& address =
            raft_address.empty() && e != nullptr ? e->raft_address : raft_address;
        if (!address.empty()) s += " at " + address;
        if (e != nullptr && e->http_port != 0) {
            s += " (host " + e->host + ", native port " + std::to_string(e->native_port) +
                 ", http port " + std::to_string(e->http_port) + ", grpc port " +
                 std::to_string(e->grpc_port) + ")";
        }
        return s;
    }

    std::string leader_text(const group_view& v) const {
        if (!v.leader) return "no leader yet: its replicas are electing one";
        return "this node is not its leader; " +
               leader_text(v.leader->id, controller_->copy(), v.leader->address);
    }

    void on_partition_change(const core::topic_ptr& t, uint32_t p, uint64_t gid,
                             const group_view& v) {
        if (stopped_ || t->deleted.load()) return;
        auto g = find_group(gid);
        if (!g) return;
        if (v.self != role::leader) {
            leading_term_.erase(gid);
            engine_->set_replica_role(
                t, p, false, 0,
                error{v.leader ? errc::not_leader : errc::unavailable, leader_text(v)});
            return;
        }
        // Once per term: a second reset within the term would drop the batches in flight.
        const uint64_t term = v.term;
        if (auto it = leading_term_.find(gid); it != leading_term_.end() && it->second == term) {
            return;
        }
        leading_term_[gid] = term;
        // A new leader first applies everything committed before its term (a barrier), so
        // that it continues the log from its true end.
        std::weak_ptr<core::topic> weak = t;
        g->barrier([this, weak, p, gid, term](status s) {
            control_.post([this, weak, p, gid, term, s] {
                auto tp = weak.lock();
                auto g2 = find_group(gid);
                if (!tp || !g2 || stopped_) return;
                const group_view now = g2->view();
                if (now.self != role::leader || now.term != term) return;  // a later change acts
                if (!s) {
                    // Still the leader of this term, but the barrier failed: try again.
                    leading_term_.erase(gid);
                    on_partition_change(tp, p, gid, now);
                    return;
                }
                auto b = store_.bounds(tp->id, p);
                if (!b) {
                    spdlog::error("cluster: bounds of {}/{}: {}", tp->config.name, p,
                                  b.err().message);
                    return;
                }
                spdlog::info("cluster: leading {}/{} from offset {} (term {})", tp->config.name, p,
                             b->end_offset, term);
                std::shared_ptr<partition_machine> machine;
                {
                    std::lock_guard lock(groups_mutex_);
                    if (auto it = machines_.find(gid); it != machines_.end()) machine = it->second;
                }
                engine_->set_replica_role(tp, p, true, b->end_offset, error{},
                                          machine ? machine->producers() : core::producer_table{});
                report_leader(tp->id, p, term);
            });
        });
    }

    // Records this node as the partition's leader in the controller, so that nodes without a
    // replica can name it.
    // The report waits for the controller on the reporter thread, not here: with no
    // controller reachable each proposal takes up to 5 tries of 10 s, and the control thread
    // must go on reconciling. Only the newest report of a partition waits.
    void report_leader(uint64_t topic_id, uint32_t p, uint64_t term) {
        bool schedule = false;
        {
            std::lock_guard lock(reports_mutex_);
            schedule = pending_reports_.empty();
            pending_reports_[{topic_id, p}] = term;
        }
        if (schedule) reporter_.post([this] { send_reports(); });
    }

    // Reporter thread: proposes the reports waiting, until none is left.
    void send_reports() {
        std::map<std::pair<uint64_t, uint32_t>, uint64_t> reports;
        {
            std::lock_guard lock(reports_mutex_);
            reports.swap(pending_reports_);
        }
        for (const auto& [where, term] : reports) {
            controller_command c;
            c.type = controller_command::kind::partition_leader;
            c.topic_id = where.first;
            c.partition = where.second;
            c.node_id = options_.node_id;
            c.term = term;
            if (auto s = propose_to_controller(c); !s) {
                spdlog::info("cluster: leader report for topic {}/{} not committed: {}",
                             where.first, where.second, s.err().message);
            }
        }
    }

    cluster_options options_;  // client ports set before start(), then constant
    storage::log_store& store_;
    core::durable_backend& local_;
    core::engine* engine_ = nullptr;
    std::unique_ptr<raft_host> host_;
    std::shared_ptr<controller_machine> controller_;
    std::shared_ptr<raft_group> controller_group_;
    std::atomic<bool> stopped_{false};
    // Set once controller_group_ is assigned (start); until then nothing may use it.
    std::atomic<bool> ready_{false};

    mutable std::mutex groups_mutex_;
    std::map<uint64_t, std::shared_ptr<raft_group>> groups_;           // guarded by groups_mutex_
    std::map<uint64_t, std::shared_ptr<partition_machine>> machines_;  // guarded by groups_mutex_
    // Control thread only.
    std::map<std::pair<uint64_t, uint32_t>, std::string> refusals_;  // last text set
    std::map<uint64_t, uint64_t> leading_term_;  // group -> term this node took the lead in
    task_thread control_;
    // Leader reports and registrations, which wait for the controller (see report_leader).
    std::mutex reports_mutex_;
    std::map<std::pair<uint64_t, uint32_t>, uint64_t> pending_reports_;  // guarded; -> term
    std::atomic<bool> registration_pending_{false};
    task_thread reporter_;
};

}  // namespace

std::unique_ptr<cluster> cluster::create(cluster_options options, storage::log_store& store,
                                         core::durable_backend& local) {
    return std::make_unique<cluster_impl>(std::move(options), store, local);
}

}  // namespace es::replication
