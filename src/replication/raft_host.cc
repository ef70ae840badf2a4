// raft_host and raft_group on C-Raft: raft_uv's network and timers with our own log storage
// (raft_log_io), groups on libuv loop threads, one shared cluster listener (see raft_host.h for
// the contract).
#include "replication/raft_host.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "replication/fsm_adapter.h"
#include "replication/raft_c.h"
#include "replication/raft_log_io.h"
#include "replication/raft_log_store.h"
#include "replication/raft_loop.h"
#include "replication/raft_transport.h"
#include "replication/rpc_client.h"
#include "replication/rpc_server.h"

namespace es::replication {
namespace {

namespace fs = std::filesystem;

// Largest command propose() accepts; a command travels in one AppendEntries message.
constexpr size_t k_command_bytes_max = 16u << 20;
// How often the loop refreshes view() between libraft callbacks (libraft 0.15 has no
// state-change callback).
constexpr uint64_t k_view_refresh_ms = 50;
// Delay before raft_uv reconnects to a peer it lost (its default is 1000 ms); short so that a
// restarted node is back in the group quickly.
constexpr unsigned k_connect_retry_ms = 200;

// Runs `f` on `loop` and waits for its result. REQUIRES: not on `loop`'s thread; loop running.
template <class F>
auto run_on(raft_loop& loop, F f) -> decltype(f()) {
    ES_ASSERT(!loop.on_loop_thread());
    using R = decltype(f());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
    std::future<R> done = task->get_future();
    const bool posted = loop.post([task] { (*task)(); });
    ES_ASSERT_MSG(posted, "raft loop is stopped");
    return done.get();
}

// Where a new group's node stands: true when its Raft log holds nothing yet.
bool is_new_group_dir(const fs::path& dir) {
    return raft_log_store::is_new(dir);
}

class group_impl;

struct apply_request {
    struct raft_apply req {};
    std::shared_ptr<group_impl> group;
    std::function<void(status, uint64_t)> done;
};

struct barrier_request {
    struct raft_barrier req {};
    std::shared_ptr<group_impl> group;
    std::function<void(status)> done;
};

struct transfer_request {
    struct raft_transfer req {};
    std::shared_ptr<group_impl> group;
    uint64_t to = 0;
    std::function<void(status)> done;
};

// What a group needs from its host, fixed when the group opens.
struct group_context {
    uint64_t node_id = 0;
    std::string node_address;
    fs::path dir;
    std::shared_ptr<group_registry> registry;
    std::shared_ptr<raft_loop> loop;
};

class group_impl final : public raft_group, public std::enable_shared_from_this<group_impl> {
  public:
    group_impl(group_context context, group_options options, std::shared_ptr<state_machine> machine)
        : context_(std::move(context)),
          options_(std::move(options)),
          machine_(std::move(machine)) {}

    ~group_impl() override { ES_ASSERT(phase_ == phase::created || phase_ == phase::closed); }

    uint64_t id() const noexcept override { return options_.group_id; }

    // Starts libraft on the loop and waits. Caller thread (not a loop thread).
    status open(bool bootstrap) {
        std::promise<status> started;
        auto ready = started.get_future();
        auto self = shared_from_this();
        const bool posted =
            context_.loop->post([self, bootstrap, &started] { self->start(bootstrap, started); });
        ES_ASSERT(posted);
        return ready.get();
    }

    // Closes libraft on the loop and waits until it let go of everything. Caller thread.
    void close() {
        std::promise<void> closed;
        auto ready = closed.get_future();
        auto self = shared_from_this();
        const bool posted = context_.loop->post(
            [self, &closed] { self->close_on_loop([&closed] { closed.set_value(); }); });
        ES_ASSERT(posted);
        ready.get();
    }

    void propose(std::vector<std::byte> command,
                 std::function<void(status, uint64_t index)> done) override {
        auto self = shared_from_this();
        if (!context_.loop->post([self, command = std::move(command), done]() mutable {
                self->propose_on_loop(std::move(command), std::move(done));
            })) {
            done(make_error(errc::unavailable, prefix() + "the raft host is stopped"), 0);
        }
    }

    void barrier(std::function<void(status)> done) override {
        auto self = shared_from_this();
        if (!context_.loop->post([self, done] { self->barrier_on_loop(done); })) {
            done(make_error(errc::unavailable, prefix() + "the raft host is stopped"));
        }
    }

    group_view view() const override {
        std::lock_guard lock(view_mutex_);
        return view_;
    }

    void set_snapshot_threshold(uint32_t threshold, uint32_t trailing) override {
        auto self = shared_from_this();
        context_.loop->post([self, threshold, trailing] {
            if (self->phase_ != phase::running) return;
            raft_set_snapshot_threshold(&self->raft_, threshold);
            raft_set_snapshot_trailing(&self->raft_, trailing);
        });
    }

    void transfer_leadership(uint64_t to, std::function<void(status)> done) override {
        auto self = shared_from_this();
        if (!context_.loop->post([self, to, done] { self->transfer_on_loop(to, done); })) {
            done(make_error(errc::unavailable, prefix() + "the raft host is stopped"));
        }
    }

  private:
    enum class phase { created, running, closing, closed };

    std::string prefix() const { return "raft group " + std::to_string(options_.group_id) + ": "; }

    // ---- loop thread from here on ----

    void start(bool bootstrap, std::promise<status>& started) {
        init_raft_fsm(&fsm_, machine_.get());
        fsm_open_ = true;
        transport_ = std::make_unique<group_transport>(context_.registry, context_.loop.get(),
                                                       options_.group_id);
        const std::string dir = context_.dir.string();
        auto store = raft_log_store::open(context_.dir, options_.segment_bytes);
        if (!store) {
            status failed = make_error(store.err().code, prefix() + store.err().message);
            release_after_close();
            started.set_value(std::move(failed));
            return;
        }
        log_io_ = std::make_unique<raft_log_io>(
            context_.loop->loop(), context_.dir, std::move(store).value(),
            [machine = machine_] { return machine->make_durable(); });
        struct raft_io* io = log_io_->io();
        int rv = raft_uv_init(io, context_.loop->loop(), dir.c_str(), transport_->get());
        if (rv != 0) {
            status failed =
                make_error(errc::io_error, prefix() + "raft_uv_init " + dir + ": " + io->errmsg);
            release_after_close();
            started.set_value(std::move(failed));
            return;
        }
        io_open_ = true;
        if (status installed = log_io_->install(); !installed) {
            status failed = make_error(installed.err().code, prefix() + installed.err().message);
            release_after_close();
            started.set_value(std::move(failed));
            return;
        }
        raft_uv_set_connect_retry_delay(io, k_connect_retry_ms);
        rv = raft_init(&raft_, io, &fsm_, context_.node_id, context_.node_address.c_str());
        if (rv != 0) {
            status failed =
                make_error(errc::io_error,
                           prefix() + "raft_init: " + raft_strerror(rv) + " (" + io->errmsg + ")");
            release_after_close();
            started.set_value(std::move(failed));
            return;
        }
        raft_.data = this;
        log_io_->watch(&raft_);
        bind_raft_fsm(&fsm_, &raft_);
        raft_set_election_timeout(&raft_, options_.election_timeout_ms);
        raft_set_heartbeat_timeout(&raft_, options_.heartbeat_timeout_ms);
        raft_set_snapshot_threshold(&raft_, options_.snapshot_threshold);
        raft_set_snapshot_trailing(&raft_, options_.snapshot_trailing);
        raft_set_pre_vote(&raft_, true);
        phase_ = phase::running;

        if (bootstrap) {
            struct raft_configuration configuration;
            raft_configuration_init(&configuration);
            for (const member& voter : options_.voters) {
                rv = raft_configuration_add(&configuration, voter.id, voter.address.c_str(),
                                            RAFT_VOTER);
                if (rv != 0) break;
            }
            if (rv == 0) rv = raft_bootstrap(&raft_, &configuration);
            raft_configuration_close(&configuration);
            if (rv != 0) {
                fail_start(errc::io_error, "raft_bootstrap", rv, started);
                return;
            }
        }
        rv = raft_start(&raft_);
        if (rv != 0) {
            fail_start(errc::io_error, "raft_start", rv, started);
            return;
        }
        uv_timer_init(context_.loop->loop(), &view_timer_);
        view_timer_.data = this;
        timer_open_ = true;
        uv_timer_start(
            &view_timer_,
            [](uv_timer_t* timer) { static_cast<group_impl*>(timer->data)->refresh_view(); },
            k_view_refresh_ms, k_view_refresh_ms);
        refresh_view();
        started.set_value(status{});
    }

    void fail_start(errc code, const char* what, int rv, std::promise<status>& started) {
        status failed = make_error(
            code, prefix() + what + ": " + raft_strerror(rv) + " (" + raft_errmsg(&raft_) + ")");
        close_on_loop([&started, failed = std::move(failed)]() mutable {
            started.set_value(std::move(failed));
        });
    }

    // Closes raft (which closes raft_uv and our transport), then frees what they used.
    void close_on_loop(std::function<void()> done) {
        if (phase_ != phase::running) {
            ES_ASSERT(phase_ == phase::created || phase_ == phase::closed);
            done();
            return;
        }
        phase_ = phase::closing;
        close_done_ = std::move(done);
        close_pending_ = 1;
        if (timer_open_) {
            ++close_pending_;
            uv_close(reinterpret_cast<uv_handle_t*>(&view_timer_), [](uv_handle_t* handle) {
                static_cast<group_impl*>(handle->data)->close_step_done();
            });
        }
        raft_close(&raft_, [](struct raft* r) {
            auto* self = static_cast<group_impl*>(r->data);
            self->release_after_close();
            self->close_step_done();
        });
        std::lock_guard lock(view_mutex_);
        view_ = group_view{};
    }

    void close_step_done() {
        if (--close_pending_ > 0) return;
        phase_ = phase::closed;
        auto done = std::move(close_done_);
        done();
    }

    // What is left once raft_close's callback fired (or raft never started).
    void release_after_close() {
        if (io_open_) raft_uv_close(log_io_->io());
        io_open_ = false;
        log_io_.reset();
        transport_.reset();
        if (fsm_open_) close_raft_fsm(&fsm_);
        fsm_open_ = false;
    }

    error error_for(int rv) {
        switch (rv) {
            case RAFT_NOTLEADER:
            case RAFT_LEADERSHIPLOST: {
                raft_id leader = 0;
                const char* address = nullptr;
                if (phase_ == phase::running) raft_leader(&raft_, &leader, &address);
                if (leader != 0 && leader != context_.node_id) {
                    return make_error(errc::not_leader, prefix() + "node " +
                                                            std::to_string(context_.node_id) +
                                                            " is not the leader; leader is node " +
                                                            std::to_string(leader) + " at " +
                                                            (address != nullptr ? address : "?"));
                }
                return make_error(errc::unavailable, prefix() + "no leader");
            }
            case RAFT_SHUTDOWN:
            case RAFT_CANCELED:
                return make_error(errc::unavailable, prefix() + "the group is closing");
            case RAFT_TOOBIG:
                return make_error(errc::too_large, prefix() + raft_strerror(rv));
            case RAFT_NOCONNECTION:
            case RAFT_BUSY:
                return make_error(errc::unavailable, prefix() + raft_strerror(rv));
            default:
                return make_error(errc::io_error, prefix() + raft_strerror(rv));
        }
    }

    void propose_on_loop(std::vector<std::byte> command,
                         std::function<void(status, uint64_t)> done) {
        if (phase_ != phase::running) {
            done(make_error(errc::unavailable, prefix() + "the group is closed"), 0);
            return;
        }
        if (command.size() > k_command_bytes_max) {
            done(make_error(errc::too_large,
                            prefix() + "command of " + std::to_string(command.size()) +
                                " bytes, the limit is " + std::to_string(k_command_bytes_max)),
                 0);
            return;
        }
        struct raft_buffer buf = encode_command(command);
        if (buf.base == nullptr) {
            done(make_error(errc::io_error, prefix() + "out of memory"), 0);
            return;
        }
        auto* request = new apply_request;
        request->req.data = request;
        request->group = shared_from_this();
        request->done = std::move(done);
        int rv = raft_apply(
            &raft_, &request->req, &buf, 1, [](struct raft_apply* req, int rv, void* result) {
                auto* request = static_cast<apply_request*>(req->data);
                group_impl* self = request->group.get();
                if (rv == 0) {
                    // The adapter's status (fsm_adapter.h); copied right away.
                    status applied =
                        result != nullptr ? *static_cast<const status*>(result) : status{};
                    request->done(std::move(applied), req->index);
                } else {
                    request->done(self->error_for(rv), 0);
                }
                self->refresh_view();
                delete request;
            });
        if (rv != 0) {
            raft_free(buf.base);
            auto failed = std::move(request->done);
            delete request;
            failed(error_for(rv), 0);
        }
    }

    void barrier_on_loop(std::function<void(status)> done) {
        if (phase_ != phase::running) {
            done(make_error(errc::unavailable, prefix() + "the group is closed"));
            return;
        }
        auto* request = new barrier_request;
        request->req.data = request;
        request->group = shared_from_this();
        request->done = std::move(done);
        int rv = raft_barrier(&raft_, &request->req, [](struct raft_barrier* req, int rv) {
            auto* request = static_cast<barrier_request*>(req->data);
            group_impl* self = request->group.get();
            request->done(rv == 0 ? status{} : status(self->error_for(rv)));
            self->refresh_view();
            delete request;
        });
        if (rv != 0) {
            auto failed = std::move(request->done);
            delete request;
            failed(error_for(rv));
        }
    }

    void transfer_on_loop(uint64_t to, std::function<void(status)> done) {
        if (phase_ != phase::running) {
            done(make_error(errc::unavailable, prefix() + "the group is closed"));
            return;
        }
        auto* request = new transfer_request;
        request->req.data = request;
        request->group = shared_from_this();
        request->to = to;
        request->done = std::move(done);
        int rv = raft_transfer(&raft_, &request->req, to, [](struct raft_transfer* req) {
            // libraft reports no status: the transfer worked if the leader is now someone else
            // (the one asked for, when one was named).
            auto* request = static_cast<transfer_request*>(req->data);
            group_impl* self = request->group.get();
            raft_id leader = 0;
            const char* address = nullptr;
            if (self->phase_ == phase::running) raft_leader(&self->raft_, &leader, &address);
            const bool moved = leader != 0 && leader != self->context_.node_id &&
                               (request->to == 0 || leader == request->to);
            self->refresh_view();
            if (moved) {
                request->done(status{});
            } else if (self->phase_ != phase::running) {
                request->done(
                    make_error(errc::unavailable, self->prefix() + "the group is closing"));
            } else {
                request->done(make_error(errc::timed_out, self->prefix() +
                                                              "leadership did not move to node " +
                                                              std::to_string(request->to) +
                                                              " within the election timeout"));
            }
            delete request;
        });
        if (rv != 0) {
            auto failed = std::move(request->done);
            delete request;
            if (rv == RAFT_BADID || rv == RAFT_NOTFOUND) {
                failed(make_error(errc::invalid_argument,
                                  prefix() + "cannot transfer leadership to node " +
                                      std::to_string(to) + ": " + raft_strerror(rv)));
            } else {
                failed(error_for(rv));
            }
        }
    }

    void refresh_view() {
        if (phase_ != phase::running) return;
        group_view now;
        now.self = role_of(raft_state(&raft_));
        raft_id leader = 0;
        const char* address = nullptr;
        raft_leader(&raft_, &leader, &address);
        if (leader != 0) now.leader = member{leader, address != nullptr ? address : ""};
        now.term = raft_.current_term;
        now.commit_index = raft_.commit_index;
        now.last_applied = raft_last_applied(&raft_);
        bool changed = false;
        {
            std::lock_guard lock(view_mutex_);
            const uint64_t before = view_.leader ? view_.leader->id : 0;
            changed = view_.self != now.self || before != leader;
            view_ = now;
        }
        if (changed && options_.on_change) options_.on_change(now);
    }

    // Constant after construction.
    const group_context context_;
    const group_options options_;
    const std::shared_ptr<state_machine> machine_;

    // Loop thread only (libraft's structs must stay where they are: they live in this object).
    struct raft raft_ {};
    std::unique_ptr<raft_log_io> log_io_;  // holds the raft_io libraft uses
    struct raft_fsm fsm_ {};
    std::unique_ptr<group_transport> transport_;
    uv_timer_t view_timer_{};
    bool fsm_open_ = false;
    bool io_open_ = false;
    bool timer_open_ = false;
    phase phase_ = phase::created;
    int close_pending_ = 0;
    std::function<void()> close_done_;

    mutable std::mutex view_mutex_;
    group_view view_;  // guarded by view_mutex_
};

class host_impl final : public raft_host {
  public:
    explicit host_impl(host_options options)
        : options_(std::move(options)),
          registry_(std::make_shared<group_registry>(options_.cluster_id)) {}

    ~host_impl() override {
        // Requests first: this host's callers get unavailable now, and so do other nodes'
        // callers waiting on this one; handlers still running may be waiting on a group, which
        // the closes below end, so the workers are joined only after them.
        if (rpc_client_) rpc_client_->stop();
        if (rpc_server_) rpc_server_->close_connections();
        std::map<uint64_t, std::shared_ptr<group_impl>> groups;
        {
            std::lock_guard lock(mutex_);
            groups.swap(groups_);
        }
        for (auto& [id, group] : groups) {
            if (group) group->close();
        }
        if (rpc_server_) rpc_server_->stop();
        if (listener_) {
            run_on(*loops_[0], [this] { listener_->close(); });
            while (!run_on(*loops_[0], [this] { return listener_->done(); })) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            listener_.reset();
        }
        for (auto& loop : loops_) loop->stop();
        // The listener, which hands connections to the server, is gone.
        rpc_server_.reset();
    }

    status start() {
        if (options_.node_id == 0) {
            return make_error(errc::invalid_argument, "raft host: node_id must be 1 or more");
        }
        if (options_.loops == 0) {
            return make_error(errc::invalid_argument, "raft host: loops must be 1 or more");
        }
        if (options_.rpc_threads == 0 || options_.rpc_queue_max == 0) {
            return make_error(errc::invalid_argument,
                              "raft host: rpc_threads and rpc_queue_max must be 1 or more");
        }
        std::string host;
        uint16_t port = 0;
        if (!split_host_port(options_.address, host, port)) {
            return make_error(errc::invalid_argument,
                              "raft host: address \"" + options_.address + "\" is not host:port");
        }
        std::error_code ec;
        fs::create_directories(options_.dir, ec);
        if (ec || !fs::is_directory(options_.dir)) {
            return make_error(errc::io_error, "raft host: directory " + options_.dir + ": " +
                                                  (ec ? ec.message() : "not a directory"));
        }
        // loops_[0]: the listener and group 0; loops_[1..]: the other groups.
        for (uint32_t i = 0; i <= options_.loops; ++i) {
            auto loop = std::make_shared<raft_loop>("raft-" + std::to_string(i));
            ES_TRY(loop->start());
            loops_.push_back(std::move(loop));
        }
        rpc_server_ = std::make_unique<rpc_server>(
            rpc_server_options{options_.rpc_threads, options_.rpc_queue_max, options_.rpc_idle_ms});
        ES_TRY(rpc_server_->start());
        listener_ = std::make_unique<cluster_listener>(registry_, loops_[0].get());
        listener_->set_rpc_acceptor([server = rpc_server_.get()](int fd, uint64_t from_node) {
            server->adopt(fd, from_node);
        });
        status bound = run_on(*loops_[0], [this] { return listener_->start(options_.address); });
        if (!bound) return bound;
        port_ = listener_->port();
        // With port 0 the others must be told the port the listener got.
        self_address_ =
            options_.address.substr(0, options_.address.rfind(':')) + ":" + std::to_string(port_);
        if (self_address_.size() > k_preamble_address_bytes_max) {
            return make_error(errc::invalid_argument,
                              "raft host: address \"" + options_.address + "\" is longer than " +
                                  std::to_string(k_preamble_address_bytes_max) + " bytes");
        }
        rpc_client_ =
            std::make_unique<rpc_client>(options_.cluster_id, options_.node_id, self_address_);
        return {};
    }

    uint64_t node_id() const noexcept override { return options_.node_id; }
    uint16_t port() const noexcept override { return port_; }

    result<std::shared_ptr<raft_group>> open_group(
        group_options options, std::shared_ptr<state_machine> machine) override {
        const uint64_t id = options.group_id;
        const std::string name = "raft group " + std::to_string(id) + ": ";
        if (!machine) return make_error(errc::invalid_argument, name + "no state machine");
        if (options.voters.empty()) return make_error(errc::invalid_argument, name + "no voters");
        for (const member& voter : options.voters) {
            if (voter.id == 0 || voter.address.empty() ||
                voter.address.size() > k_preamble_address_bytes_max) {
                return make_error(errc::invalid_argument,
                                  name + "voter ids must be 1 or more and addresses 1.." +
                                      std::to_string(k_preamble_address_bytes_max) + " bytes");
            }
        }
        if (id == k_rpc_group_id) {
            return make_error(errc::invalid_argument,
                              name + "the id is reserved for node-to-node requests");
        }
        const fs::path dir = fs::path(options_.dir) / ("g" + std::to_string(id));
        const bool bootstrap = is_new_group_dir(dir);
        if (bootstrap && std::none_of(options.voters.begin(), options.voters.end(),
                                      [&](const member& m) { return m.id == options_.node_id; })) {
            return make_error(errc::invalid_argument,
                              name + "node " + std::to_string(options_.node_id) +
                                  " is not among the voters of the new group");
        }
        {
            std::lock_guard lock(mutex_);
            if (groups_.count(id) != 0) {
                return make_error(errc::already_exists, name + "already open");
            }
            groups_[id] = nullptr;  // reserved while it opens
        }
        auto unreserve = [&] {
            std::lock_guard lock(mutex_);
            groups_.erase(id);
        };
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) {
            unreserve();
            return make_error(errc::io_error,
                              name + "directory " + dir.string() + ": " + ec.message());
        }
        group_context context{options_.node_id, self_address_, dir, registry_, loop_of(id)};
        auto group = std::make_shared<group_impl>(std::move(context), std::move(options),
                                                  std::move(machine));
        status opened = group->open(bootstrap);
        if (!opened) {
            unreserve();
            return std::move(opened).err();
        }
        std::lock_guard lock(mutex_);
        groups_[id] = group;
        return std::shared_ptr<raft_group>(group);
    }

    status close_group(uint64_t group_id, bool erase) override {
        std::shared_ptr<group_impl> group;
        {
            std::lock_guard lock(mutex_);
            auto it = groups_.find(group_id);
            if (it != groups_.end() && it->second) {
                group = std::move(it->second);
                groups_.erase(it);
            }
        }
        if (group) {
            group->close();
        } else if (!erase) {
            return make_error(errc::not_found,
                              "raft group " + std::to_string(group_id) + " is not open");
        }
        if (erase) {
            const fs::path dir = fs::path(options_.dir) / ("g" + std::to_string(group_id));
            std::error_code ec;
            fs::remove_all(dir, ec);
            if (ec) {
                return make_error(errc::io_error, "raft group " + std::to_string(group_id) +
                                                      ": remove " + dir.string() + ": " +
                                                      ec.message());
            }
        }
        return {};
    }

    void set_rpc_handler(rpc_handler handler) override {
        rpc_server_->set_handler(std::move(handler));
    }

    result<std::vector<std::byte>> call(const std::string& address,
                                        std::span<const std::byte> request,
                                        std::chrono::milliseconds timeout) override {
        for (const auto& loop : loops_) {
            ES_ASSERT_MSG(!loop->on_loop_thread(), "raft_host::call on a raft loop thread");
        }
        return rpc_client_->call(address, request, timeout);
    }

    void stop_calls() override {
        if (rpc_client_) rpc_client_->stop();
    }

  private:
    // Constant after start().
    const host_options options_;
    const std::shared_ptr<group_registry> registry_;
    std::vector<std::shared_ptr<raft_loop>> loops_;
    // The loop a group runs on: group 0 shares loops_[0] with the listener alone.
    const std::shared_ptr<raft_loop>& loop_of(uint64_t group_id) const {
        if (group_id == 0) return loops_[0];
        return loops_[1 + group_id % (loops_.size() - 1)];
    }

    std::unique_ptr<cluster_listener> listener_;  // lives on loops_[0]
    std::unique_ptr<rpc_server> rpc_server_;      // takes connections from listener_
    std::unique_ptr<rpc_client> rpc_client_;
    uint16_t port_ = 0;
    std::string self_address_;

    std::mutex mutex_;
    // Open groups; nullptr while one opens.
    std::map<uint64_t, std::shared_ptr<group_impl>> groups_;  // guarded by mutex_
};

}  // namespace

role role_of(int state) noexcept {
    switch (state) {
        case RAFT_FOLLOWER:
            return role::follower;
        case RAFT_CANDIDATE:
            return role::candidate;
        case RAFT_LEADER:
            return role::leader;
        default:
            return role::unavailable;
    }
}

const char* role_name(role r) noexcept {
    switch (r) {
        case role::follower:
            return "follower";
        case role::candidate:
            return "candidate";
        case role::leader:
            return "leader";
        case role::unavailable:
            return "unavailable";
    }
    return "unknown";
}

result<std::unique_ptr<raft_host>> raft_host::start(const host_options& options) {
    auto host = std::make_unique<host_impl>(options);
    ES_TRY(host->start());
    return std::unique_ptr<raft_host>(std::move(host));
}

}  // namespace es::replication
