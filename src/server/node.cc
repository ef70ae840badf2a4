// Node assembly: start-up in dependency order, shutdown in reverse with the engine drained.
#include "server/node.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/assert.h"
#include "core/cpu_affinity.h"
#include "core/engine.h"
#include "metrics/registry.h"
#include "replication/cluster.h"
#include "server/accept_loop.h"
#include "server/admin_pool.h"
#include "server/data_dir_lock.h"
#include "server/grpc_endpoint.h"
#include "server/http_listener.h"
#include "server/native_listener.h"
#include "server/node_routes.h"
#include "server/ports_file.h"
#include "server/reserved_port_listener.h"
#include "server/rest_service.h"
#include "storage/log_store.h"
#include "storage/store_service.h"

namespace es::server {
namespace {

// Asio threads for the listeners, each with a context of its own (io_pool). Two keep a slow
// handler on one thread from stalling the other's connections while leaving the cores to the
// workers, where the protocols' real work happens. Where the process may use only one or two
// CPUs the workers already take them; a second io thread then only takes turns with them, and
// HTTP served about 14 % more requests/s with one (bench/RESULTS.md, 2026-11-29 afternoon).
int io_thread_count(uint32_t configured) {
    if (configured > 0) return static_cast<int>(configured);
    return core::allowed_cpus().size() <= 2 ? 1 : 2;
}

core::engine_options engine_options_of(const node_config& c, metrics::registry* registry,
                                       core::durable_backend* durable,
                                       core::cluster_hooks* cluster) {
    core::engine_options o;
    o.metrics = registry;
    o.workers = c.workers;
    o.pin_workers = c.pin_workers;
    o.worker.ingest_queue_bytes = c.ingest_queue_bytes;
    o.segment_pool_bytes = c.segment_pool_bytes;
    o.segment_pool_pretouch = c.segment_pool_pretouch;
    o.worker.spin_before_park_us = c.worker_spin_us;
    o.worker.durable.batch_events_max = c.durable_batch_events;
    o.worker.durable.batch_bytes_max = c.durable_batch_bytes;
    o.worker.durable.linger_us = c.durable_linger_us;
    o.worker.durable.cache_bytes = c.durable_cache_bytes;
    o.durable = durable;
    o.cluster = cluster;
    return o;
}

// The host clients are told to reach this node at (node_config::advertise_host): the option,
// else a specific bind address (or name), else with a wildcard bind this node's host in peers,
// else the machine's host name.
std::string advertised_host(const node_config& c, const std::string& peers_host) {
    if (!c.advertise_host.empty()) return c.advertise_host;
    boost::system::error_code ec;
    const auto bound = boost::asio::ip::make_address(c.bind, ec);
    if (ec || !bound.is_unspecified()) return c.bind;
    if (!peers_host.empty()) return peers_host;
    std::string name = boost::asio::ip::host_name(ec);
    return ec || name.empty() ? std::string("127.0.0.1") : name;
}

storage::store_service_options store_options_of(const node_config& c) {
    storage::store_service_options o;
    auto policy = storage::parse_fsync_policy(c.fsync);
    ES_ASSERT_MSG(policy.has_value(), "config validation lets only known fsync policies in");
    o.fsync = *policy;
    o.fsync_interval_ms = c.fsync_interval_ms;
    return o;
}

const char* signal_name(int signo) {
    switch (signo) {
        case SIGINT:
            return "SIGINT";
        case SIGTERM:
            return "SIGTERM";
        default:
            return "a signal";
    }
}

}  // namespace

struct node::impl {
    explicit impl(node_config c, bool signals)
        : config(std::move(c)), handle_signals(signals), io(io_thread_count(config.io_threads)) {}

    status start_steps();
    status write_ports();  // ports.json, once the node is running
    void on_signal(const boost::system::error_code& ec, int signo);
    void close_listeners();

    // Constant after construction.
    const node_config config;
    const bool handle_signals;

    metrics::registry metrics;
    // Opened in start(), once the data directory is locked; the engine is built on the store
    // and stops before it (declared after it, so destroyed first).
    std::unique_ptr<storage::log_store> store;
    std::unique_ptr<storage::store_service> store_service;
    // Cluster mode (peers given): Raft groups over the store; stops after the engine.
    std::unique_ptr<replication::cluster> cluster;
    std::optional<core::engine> engine;
    std::atomic<node_state> state{node_state::created};

    // Owned by the controlling thread (start/stop).
    data_dir_lock lock;
    bool ports_file_written = false;
    node_ports ports;

    // The io contexts outlive the listeners declared after them: they hold sockets of them.
    io_pool io;
    // Topic creations and deletions, off the io threads; closed after the listeners, before
    // the engine stops.
    admin_pool admin;
    std::optional<asio::signal_set> signals;  // on io.first(), used on io threads once started
    std::unique_ptr<http_listener> http;
    std::shared_ptr<rest_service> rest;  // REST and WebSocket; closed with the listeners
    std::vector<std::unique_ptr<reserved_port_listener>> reserved_ports;
    std::unique_ptr<grpc_endpoint> grpc;  // shut down with the listeners
    std::unique_ptr<native_listener> native;

    std::atomic<int> signals_received{0};
    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stop_requested = false;  // guarded by stop_mutex
};

void node::impl::on_signal(const boost::system::error_code& ec, int signo) {
    if (ec) return;  // the signal_set was cancelled
    if (signals_received.fetch_add(1) == 0) {
        spdlog::info("received {}; stopping (send it again to exit at once without draining)",
                     signal_name(signo));
        std::lock_guard lock(stop_mutex);
        stop_requested = true;
        stop_cv.notify_all();
    } else {
        spdlog::warn("received {} again while stopping; exiting now without draining",
                     signal_name(signo));
        spdlog::default_logger()->flush();
        std::_Exit(128 + signo);
    }
    signals->async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
}

status node::impl::start_steps() {
    auto locked = data_dir_lock::acquire(config.data_dir);
    if (!locked) return std::move(locked).err();
    lock = std::move(*locked);

    // We hold the lock, so a ports.json here was left by a process that did not stop cleanly;
    // remove it before anyone reads stale ports from it.
    std::error_code fs_ec;
    if (std::filesystem::remove(ports_file_path(config.data_dir), fs_ec)) {
        spdlog::warn("removed a stale {} left by a node that did not stop cleanly",
                     ports_file_path(config.data_dir));
    }

    // Signals are caught before anything else starts, so that a stop requested during start-up
    // is honoured rather than killing the process half-way.
    if (handle_signals) {
        signals.emplace(io.first(), SIGINT, SIGTERM);
        signals->async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
    }
    io.start("es-io");

    // The store: a directory that is not ours, or a corrupt one, stops the start here with the
    // store's message; nothing in it is changed.
    const bool clustered = !config.peers.empty();
    storage::store_options so;
    so.path = (std::filesystem::path(config.data_dir) / "store").string();
    // In a cluster the Raft logs are the durable copy of every topic's writes (the partition
    // groups flush the store before each snapshot).
    so.topic_wal = !clustered;
    // ... and what the store flushes there goes past the page cache (store_options).
    so.direct_flush = clustered;
    auto opened = storage::log_store::open(so);
    if (!opened) {
        return make_error(opened.err().code,
                          "cannot open the store in " + so.path + ": " + opened.err().message);
    }
    store = std::move(*opened);
    store_service =
        std::make_unique<storage::store_service>(*store, store_options_of(config), &metrics);
    store_service->start();
    uint16_t cluster_port = config.cluster_port;  // in a cluster: the one the peers know
    std::string peers_host;                       // this node's host in peers, if listed
    if (clustered) {
        replication::cluster_options co;
        co.node_id = config.node_id;
        bool self_listed = false;
        for (const auto& p : config.peers) {
            co.nodes.push_back({p.node_id, p.host + ":" + std::to_string(p.port)});
            if (p.node_id == config.node_id) {
                self_listed = true;
                cluster_port = p.port;
                peers_host = p.host;
            }
        }
        if (!self_listed) {
            if (config.cluster_port == 0) {
                return make_error(errc::config_error,
                                  "cluster_port: in a cluster it must be fixed (not 0), or this "
                                  "node listed in peers with its address");
            }
            co.nodes.push_back(
                {config.node_id, config.bind + ":" + std::to_string(config.cluster_port)});
        }
        co.raft_dir = (std::filesystem::path(config.data_dir) / "raft").string();
        co.election_timeout_ms = config.raft_election_timeout_ms;
        co.heartbeat_timeout_ms = config.raft_heartbeat_ms;
        co.snapshot_threshold = config.raft_snapshot_threshold;
        co.snapshot_trailing = config.raft_snapshot_trailing;
        co.raft_log_bytes = config.raft_log_bytes;
        co.raft_segment_bytes = config.raft_segment_bytes;
        cluster = replication::cluster::create(std::move(co), *store, *store_service);
    }
    core::durable_backend* backend =
        clustered ? static_cast<core::durable_backend*>(cluster.get()) : store_service.get();
    engine.emplace(engine_options_of(config, &metrics, backend, cluster.get()));
    ES_TRY(engine->restore_topics());
    const auto restored = engine->list_topics();
    if (!restored.empty()) {
        spdlog::info("restored {} durable topic(s) from {}", restored.size(), so.path);
    }

    engine->start();
    spdlog::info("engine started with {} worker(s); durable writes fsync={}",
                 engine->worker_count(), config.fsync);

    // Bind every port before serving any, so that a conflict on the last one leaves nothing
    // half-served.
    auto http_acceptor = open_listener(io.first(), config.bind, config.http_port, "http_port");
    if (!http_acceptor) return std::move(http_acceptor).err();
    // gRPC binds its own port and serves from the moment it is bound; the engine it serves
    // is already running.
    grpc_endpoint_options grpc_opts;
    grpc_opts.bind = config.bind;
    grpc_opts.port = config.grpc_port;
    grpc_opts.node_id = config.node_id;
    auto grpc_started = grpc_endpoint::start(*engine, metrics, grpc_opts);
    if (!grpc_started) return std::move(grpc_started).err();
    grpc = std::move(*grpc_started);
    auto native_acceptor =
        open_listener(io.first(), config.bind, config.native_port, "native_port");
    if (!native_acceptor) return std::move(native_acceptor).err();
    // A single node keeps the cluster port reserved; in a cluster the Raft host binds it.
    std::optional<asio::ip::tcp::acceptor> cluster_acceptor;
    if (!clustered) {
        auto a = open_listener(io.first(), config.bind, config.cluster_port, "cluster_port");
        if (!a) return std::move(a).err();
        cluster_acceptor.emplace(std::move(*a));
    }

    auto router = std::make_shared<http_router>();
    rest_options rest_opts;
    rest_opts.node_id = config.node_id;
    rest_opts.websocket_message_timeout_ms = config.websocket_message_timeout_ms;
    rest_opts.bind = http_acceptor->local_endpoint().address().to_string();
    rest_opts.http_port = http_acceptor->local_endpoint().port();
    rest_opts.grpc_port = grpc->port();
    rest_opts.native_port = native_acceptor->local_endpoint().port();
    rest_opts.cluster_port =
        cluster_acceptor ? cluster_acceptor->local_endpoint().port() : cluster_port;
    if (clustered) {
        rest_opts.cluster_json = [c = cluster.get()] { return c->describe_json(); };
    }
    rest = rest_service::create(io.first(), *engine, admin, &metrics, rest_opts);
    add_node_routes(
        *router, [this] { return state.load(std::memory_order_acquire); }, config.node_id, metrics,
        rest.get());
    http_listener_options http_opts;
    http_opts.io_timeout_ms = config.http_io_timeout_ms;
    http = std::make_unique<http_listener>(io, std::move(*http_acceptor), std::move(router),
                                           http_opts, &metrics);
    http->set_upgrade_handler(rest_service::websocket_path, rest->websocket_upgrade_handler());
    native_options native_opts;
    native_opts.max_frame_bytes = config.native_max_frame_bytes;
    native_opts.idle_timeout_ms = config.native_idle_timeout_ms;
    native_opts.handshake_timeout_ms = config.native_handshake_timeout_ms;
    native_opts.frame_timeout_ms = config.native_frame_timeout_ms;
    native_opts.write_timeout_ms = config.native_write_timeout_ms;
    native_opts.send_buffer_bytes = config.native_send_buffer_bytes;
    native_opts.connections_max = config.native_connections_max;
    native_opts.node_id = config.node_id;
    const std::string advertised = advertised_host(config, peers_host);
    native_opts.host = advertised;
    auto native_created = native_listener::create(io, admin, std::move(*native_acceptor), *engine,
                                                  native_opts, &metrics);
    if (!native_created) return std::move(native_created).err();
    native = std::move(*native_created);
    if (cluster_acceptor) {
        reserved_ports.push_back(std::make_unique<reserved_port_listener>(
            io, std::move(*cluster_acceptor), "cluster", "node-to-node traffic (clustering)"));
    }

    const auto& http_ep = http->local_endpoint();
    ports.http = http_ep.port();
    ports.grpc = grpc->port();
    ports.native = native->local_endpoint().port();
    if (clustered) {
        cluster->set_client_endpoint(advertised, ports.native, ports.http, ports.grpc);
        ES_TRY(cluster->start(*engine));
        ports.cluster = cluster->port();
    } else {
        ports.cluster = reserved_ports[0]->local_endpoint().port();
    }

    http->start();
    for (auto& p : reserved_ports) p->start();
    native->start();

    spdlog::info("http listening on {} (REST /v1, WebSocket /v1/stream, health, metrics)",
                 endpoint_text(http_ep));
    spdlog::info(
        "grpc listening on {}:{} (eventstream.v1.EventService, grpc.health.v1, reflection)",
        config.bind, grpc->port());
    spdlog::info("native listening on {} (native protocol, TCP and UDP)",
                 endpoint_text(native->local_endpoint()));
    if (clustered) {
        spdlog::info(
            "cluster listening on {}:{} (Raft: controller and partition groups; {} "
            "node(s))",
            config.bind, ports.cluster, config.peers.size());
    } else {
        spdlog::info("cluster listening on {} (single node: no peers; connections are closed)",
                     endpoint_text(reserved_ports[0]->local_endpoint()));
    }
    return {};
}

status node::impl::write_ports() {
    ports_record record;
    record.node_id = config.node_id;
    record.bind = http->local_endpoint().address().to_string();
    record.http = ports.http;
    record.grpc = ports.grpc;
    record.native = ports.native;
    record.cluster = ports.cluster;
    record.pid = ::getpid();
    // Set first: a write that fails after its rename (syncing the directory) leaves the file,
    // and stop() must remove it.
    ports_file_written = true;
    return write_ports_file(config.data_dir, record);
}

void node::impl::close_listeners() {
    if (http) http->close();
    if (rest) rest->close();     // long polls and WebSocket sessions end before the engine stops
    if (grpc) grpc->shutdown();  // calls in progress get a short grace, then are cancelled
    for (auto& p : reserved_ports) p->close();
    if (native) native->close();  // native sessions end their subscriptions before the engine stops
}

node::node(node_config config, bool handle_signals)
    : impl_(std::make_unique<impl>(std::move(config), handle_signals)) {}

node::~node() {
    stop();
}

status node::start() {
    node_state expected = node_state::created;
    ES_ASSERT_MSG(impl_->state.compare_exchange_strong(expected, node_state::starting),
                  "node::start called twice");
    spdlog::info("node {} starting; data directory {}", impl_->config.node_id,
                 impl_->config.data_dir);
    auto s = impl_->start_steps();
    if (!s) {
        stop();
        return s;
    }
    impl_->state.store(node_state::running, std::memory_order_release);
    // ports.json is the sign, for scripts and tests, that the node is ready: written only once
    // /health/ready answers 200.
    s = impl_->write_ports();
    if (!s) {
        impl_->state.store(node_state::starting, std::memory_order_release);  // a failed start
        stop();
        return s;
    }
    spdlog::info("node {} ready", impl_->config.node_id);
    return {};
}

void node::wait_for_stop_request() {
    std::unique_lock lock(impl_->stop_mutex);
    impl_->stop_cv.wait(lock, [this] { return impl_->stop_requested; });
}

void node::request_stop() {
    std::lock_guard lock(impl_->stop_mutex);
    impl_->stop_requested = true;
    impl_->stop_cv.notify_all();
}

void node::stop() {
    impl& n = *impl_;
    const node_state before = n.state.exchange(node_state::stopping);
    if (before == node_state::stopped || before == node_state::stopping) {
        n.state.store(before);
        return;
    }
    const bool was_running = before == node_state::running;
    if (was_running) spdlog::info("node {} stopping", n.config.node_id);

    // 1. No new connections or requests; /health/ready already says 503 (state is stopping).
    if (n.io.running()) n.close_listeners();
    // A topic creation or deletion in progress finishes before the engine stops; queued ones
    // are answered shutting_down.
    n.admin.close();
    // 2. Everything queued is appended and delivered, then the workers stop. Producers are gone:
    //    the listeners that feed the engine are closed.
    //    Durable batches are on disk and acked before the workers stop; then the store closes.
    //    In a cluster, partitions stop taking publishes first and publishers still waiting for
    //    a Raft commit are answered, so the engine need not wait for a majority.
    if (n.cluster && n.engine) n.cluster->leave();
    if (n.engine) n.engine->stop();
    if (n.cluster) n.cluster->stop();
    if (n.store_service) n.store_service->stop();
    // 3. The io threads end once their work is gone. The signal_set stays (without a running
    //    io_context a signal is only recorded), so that a late signal cannot kill us half-way.
    n.io.stop();
    n.http.reset();
    n.rest.reset();
    n.reserved_ports.clear();
    n.grpc.reset();
    n.native.reset();
    // 4. The ports are no longer valid; a reader must not find them.
    if (n.ports_file_written) {
        std::error_code ec;
        std::filesystem::remove(ports_file_path(n.config.data_dir), ec);
        if (ec)
            spdlog::warn("cannot remove {}: {}", ports_file_path(n.config.data_dir), ec.message());
        n.ports_file_written = false;
    }
    n.lock.release();
    n.state.store(node_state::stopped);
    if (was_running) {
        spdlog::info("node {} stopped cleanly", n.config.node_id);
    }
}

node_state node::state() const noexcept {
    return impl_->state.load(std::memory_order_acquire);
}
node_ports node::ports() const {
    return impl_->ports;
}
const node_config& node::config() const {
    return impl_->config;
}
core::engine& node::engine() {
    ES_ASSERT_MSG(impl_->engine.has_value(), "node::engine() before start()");
    return *impl_->engine;
}
metrics::registry& node::metrics() {
    return impl_->metrics;
}

}  // namespace es::server
