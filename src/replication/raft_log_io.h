// A libraft raft_io whose network, timer and clock are raft_uv's and whose storage is ours
// (raft_log_store): the log, snapshot and vote of one group. Appends, truncations and snapshot
// writes run on libuv's thread pool, one job per group at a time; whatever libraft hands over
// while a job runs goes into the next job together, with one fdatasync for all of it. A failed
// write stops the process (fail-stop); closing drains the queue rather than cancelling it.
// Ticks and incoming vote requests pass through the election-timing rules before libraft sees
// them (election_timing.h); a message that raft_uv failed to write is sent once more.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "replication/raft_c.h"
#include "replication/raft_log_store.h"

namespace es::replication {

class raft_log_io {
  public:
    // Runs on a pool thread before a snapshot libraft took is stored: it must make the state
    // the snapshot covers durable (state_machine::make_durable). May be empty.
    using before_snapshot_fn = std::function<status()>;

    // REQUIRES: `store` opened on `dir`; the loop thread of `loop` calls everything below.
    raft_log_io(uv_loop_t* loop, std::filesystem::path dir, std::unique_ptr<raft_log_store> store,
                before_snapshot_fn before_snapshot = {});
    ~raft_log_io();
    raft_log_io(const raft_log_io&) = delete;
    raft_log_io& operator=(const raft_log_io&) = delete;

    // The raft_io to give raft_uv_init() and then raft_init().
    struct raft_io* io() noexcept {
        return &box_.io;
    }

    // Swaps raft_uv's storage functions for ours. REQUIRES: raft_uv_init(io(), ...) succeeded,
    // raft_init() not yet called. Fails when the stored vote cannot be read.
    [[nodiscard]] status install();

    // The raft instance that uses io(), against whose state ticks and incoming vote requests are
    // checked (election_timing.h). REQUIRES: raft_init() done, raft_start() not yet called.
    void watch(struct raft* r) noexcept { raft_ = r; }

    // True while work runs on the pool or waits to. Messages in flight are not counted: each
    // send_op owns what it needs and is freed by raft_uv's callback, which raft_uv's close
    // calls for every send it still holds.
    bool busy() const noexcept { return busy_ || !pending_.empty() || preparing_ != nullptr; }

  private:
    struct op;
    // libraft sees only `io`; the callbacks find this object through `owner`.
    struct box {
        struct raft_io io;
        raft_log_io* owner;
    };

    static raft_log_io& self(struct raft_io* io);
    static int on_load(struct raft_io* io, raft_term* term, raft_id* voted_for,
                       struct raft_snapshot** snapshot, raft_index* start_index,
                       struct raft_entry* entries[], size_t* n_entries);
    static int on_bootstrap(struct raft_io* io, const struct raft_configuration* conf);
    static int on_recover(struct raft_io* io, const struct raft_configuration* conf);
    static int on_set_term(struct raft_io* io, raft_term term);
    static int on_set_vote(struct raft_io* io, raft_id server_id);
    static int on_append(struct raft_io* io, struct raft_io_append* req,
                         const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);
    static int on_truncate(struct raft_io* io, raft_index index);
    static int on_snapshot_put(struct raft_io* io, unsigned trailing,
                               struct raft_io_snapshot_put* req,
                               const struct raft_snapshot* snapshot, raft_io_snapshot_put_cb cb);
    static int on_snapshot_get(struct raft_io* io, struct raft_io_snapshot_get* req,
                               raft_io_snapshot_get_cb cb);
    static void on_close(struct raft_io* io, raft_io_close_cb cb);
    static int on_start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick,
                        raft_io_recv_cb recv);
    struct send_op;
    static int on_send(struct raft_io* io, struct raft_io_send* req,
                       const struct raft_message* message, raft_io_send_cb cb);
    static void on_sent(struct raft_io_send* req, int status);
    static void on_tick(struct raft_io* io);
    static void on_recv(struct raft_io* io, struct raft_message* message);
    void note_state();  // logs a change of the group's Raft state (debug)

    int store_vote(raft_vote vote);
    int append_configuration(uint64_t term, const struct raft_configuration* conf);
    int fail_with(const error& e);
    int submit(op o);  // enqueue(), or RAFT_CANCELED once closing
    void enqueue(op o);
    void start_job();
    void run_job();     // pool thread
    void finish_job();  // loop thread
    void complete(op& o, int rv);
    void maybe_finish_close();
    void finish_close();
    void prepare_snapshot(op o);

    box box_{};
    uv_loop_t* const loop_;
    const std::filesystem::path dir_;
    // Touched by the pool thread while a job runs, by the loop thread otherwise.
    std::unique_ptr<raft_log_store> store_;
    const before_snapshot_fn before_snapshot_;
    // Loop thread only.
    raft_vote vote_;
    uint64_t vote_sequence_ = 0;  // of the last write of vote_
    void (*uv_close_)(struct raft_io*, raft_io_close_cb) = nullptr;
    int (*uv_start_)(struct raft_io*, unsigned, raft_io_tick_cb, raft_io_recv_cb) = nullptr;
    int (*uv_send_)(struct raft_io*, struct raft_io_send*, const struct raft_message*,
                    raft_io_send_cb) = nullptr;
    raft_io_tick_cb raft_tick_ = nullptr;  // libraft's
    raft_io_recv_cb raft_recv_ = nullptr;  // libraft's
    unsigned heartbeat_ms_ = 0;            // the tick period libraft asked for
    raft_time last_tick_ = 0;              // when a tick last went on to libraft
    unsigned short seen_state_ = 0;        // the Raft state note_state() last saw
    struct raft* raft_ = nullptr;
    raft_io_close_cb close_cb_ = nullptr;
    bool closing_ = false;
    bool closed_ = false;  // raft_uv's close was called
    bool busy_ = false;
    uv_work_t work_{};
    // The snapshot whose state before_snapshot_ is making durable, on the pool, outside the
    // job queue: the group's appends go on meanwhile. libraft has one snapshot out at a time.
    std::unique_ptr<op> preparing_;
    status prepared_;  // before_snapshot_'s outcome, set by the pool thread
    uv_work_t prepare_work_{};
    std::vector<op> pending_;
    std::vector<op> running_;  // the pool thread's while busy_
};

}  // namespace es::replication
