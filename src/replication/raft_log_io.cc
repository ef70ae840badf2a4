// raft_log_io: libraft's storage calls on raft_log_store (see raft_log_io.h).
#include "replication/raft_log_io.h"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "replication/election_timing.h"
#include "replication/raft_host.h"

namespace es::replication {

struct raft_log_io::op {
    enum class kind { append, truncate, snapshot_put, snapshot_get } what = kind::append;
    // append
    struct raft_io_append* append_req = nullptr;
    raft_io_append_cb append_cb = nullptr;
    std::vector<raft_log_entry> entries;
    // truncate
    uint64_t index = 0;
    // snapshot_put
    struct raft_io_snapshot_put* put_req = nullptr;
    raft_io_snapshot_put_cb put_cb = nullptr;
    std::optional<raft_snapshot_record> record;  // also snapshot_get's answer
    unsigned trailing = 0;
    // snapshot_get
    struct raft_io_snapshot_get* get_req = nullptr;
    raft_io_snapshot_get_cb get_cb = nullptr;
    // The outcome, set by the pool thread.
    status outcome;
};

namespace {

// A raft_snapshot from libraft's heap, which libraft frees once it is done with it.
struct raft_snapshot* to_raft_snapshot(const raft_snapshot_record& r) {
    auto* s = static_cast<struct raft_snapshot*>(raft_malloc(sizeof(struct raft_snapshot)));
    if (s == nullptr) return nullptr;
    std::memset(s, 0, sizeof(*s));
    s->index = r.index;
    s->term = r.term;
    s->configuration_index = r.configuration_index;
    raft_configuration_init(&s->configuration);
    s->bufs = static_cast<struct raft_buffer*>(raft_malloc(sizeof(struct raft_buffer)));
    // raft_malloc(0) may give NULL: an empty snapshot still gets a byte of room.
    void* data = raft_malloc(std::max<size_t>(r.data.size(), 1));
    bool ok = s->bufs != nullptr && data != nullptr;
    for (const snapshot_server& server : r.configuration) {
        if (!ok) break;
        ok = raft_configuration_add(&s->configuration, server.id, server.address.c_str(),
                                    server.role) == 0;
    }
    if (!ok) {
        raft_configuration_close(&s->configuration);
        raft_free(s->bufs);
        raft_free(data);
        raft_free(s);
        return nullptr;
    }
    if (!r.data.empty()) std::memcpy(data, r.data.data(), r.data.size());
    s->bufs[0].base = data;
    s->bufs[0].len = r.data.size();
    s->n_bufs = 1;
    return s;
}

raft_snapshot_record to_record(const struct raft_snapshot& s) {
    raft_snapshot_record r;
    r.index = s.index;
    r.term = s.term;
    r.configuration_index = s.configuration_index;
    for (unsigned i = 0; i < s.configuration.n; ++i) {
        const struct raft_server& server = s.configuration.servers[i];
        r.configuration.push_back(snapshot_server{server.id, static_cast<uint8_t>(server.role),
                                                  server.address != nullptr ? server.address : ""});
    }
    size_t bytes = 0;
    for (unsigned i = 0; i < s.n_bufs; ++i) bytes += s.bufs[i].len;
    r.data.reserve(bytes);
    for (unsigned i = 0; i < s.n_bufs; ++i) {
        const auto* p = static_cast<const std::byte*>(s.bufs[i].base);
        r.data.insert(r.data.end(), p, p + s.bufs[i].len);
    }
    return r;
}

}  // namespace

raft_log_io::raft_log_io(uv_loop_t* loop, std::filesystem::path dir,
                         std::unique_ptr<raft_log_store> store, before_snapshot_fn before_snapshot)
    : loop_(loop),
      dir_(std::move(dir)),
      store_(std::move(store)),
      before_snapshot_(std::move(before_snapshot)) {
    box_.owner = this;
}

raft_log_io::~raft_log_io() {
    ES_ASSERT_MSG(!busy(), "a Raft log job outlived its group");
}

raft_log_io& raft_log_io::self(struct raft_io* io) {
    return *reinterpret_cast<box*>(io)->owner;
}

status raft_log_io::install() {
    auto stored = read_raft_vote(dir_);
    if (!stored) return stored.err();
    vote_ = stored.value().vote;
    vote_sequence_ = stored.value().sequence;
    struct raft_io& io = box_.io;
    uv_close_ = io.close;
    io.close = on_close;
    uv_start_ = io.start;
    io.start = on_start;
    uv_send_ = io.send;
    io.send = on_send;
    io.load = on_load;
    io.bootstrap = on_bootstrap;
    io.recover = on_recover;
    io.set_term = on_set_term;
    io.set_vote = on_set_vote;
    io.append = on_append;
    io.truncate = on_truncate;
    io.snapshot_put = on_snapshot_put;
    io.snapshot_get = on_snapshot_get;
    return {};
}

int raft_log_io::fail_with(const error& e) {
    std::snprintf(box_.io.errmsg, sizeof(box_.io.errmsg), "%s", e.message.c_str());
    return RAFT_IOERR;
}

// ---- ticks and incoming messages: raft_uv makes them, the election-timing rules see them
// before libraft does (election_timing.h) ----

int raft_log_io::on_start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick,
                          raft_io_recv_cb recv) {
    raft_log_io& me = self(io);
    me.raft_tick_ = tick;
    me.raft_recv_ = recv;
    me.heartbeat_ms_ = msecs;
    me.last_tick_ = io->time(io);
    return me.uv_start_(io, tick_ms(msecs), on_tick, on_recv);
}

void raft_log_io::on_tick(struct raft_io* io) {
    raft_log_io& me = self(io);
    const raft_time now = io->time(io);
    if (me.raft_ != nullptr && !pass_tick_on(*me.raft_, now, me.last_tick_, me.heartbeat_ms_)) {
        return;
    }
    me.last_tick_ = now;
    me.raft_tick_(io);
    me.note_state();
}

void raft_log_io::note_state() {
    if (raft_ == nullptr || raft_->state == seen_state_) return;
    spdlog::debug("raft {}: {} -> {} (term {})", dir_.filename().string(),
                  role_name(role_of(seen_state_)), role_name(role_of(raft_->state)),
                  raft_->current_term);
    seen_state_ = raft_->state;
}

void raft_log_io::on_recv(struct raft_io* io, struct raft_message* message) {
    raft_log_io& me = self(io);
    if (message->type == RAFT_IO_REQUEST_VOTE && me.raft_ != nullptr) {
        const raft_time now = io->time(io);
        const bool marked = apply_leader_contact_rule(*me.raft_, now, message->request_vote);
        if (spdlog::should_log(spdlog::level::debug)) {
            // election_timer_start is the last contact with a leader only for a follower.
            const struct raft& r = *me.raft_;
            const bool follower = r.state == RAFT_FOLLOWER;
            const std::string contact =
                follower && now >= r.election_timer_start
                    ? fmt::format(", {} ms since contact", now - r.election_timer_start)
                    : std::string();
            spdlog::debug(
                "raft {}: {} request from node {} for term {} ({}, term {}, leader {}{}{})",
                me.dir_.filename().string(), message->request_vote.pre_vote ? "pre-vote" : "vote",
                message->server_id, message->request_vote.term, role_name(role_of(r.state)),
                r.current_term, follower ? r.follower_state.current_leader.id : 0, contact,
                marked ? "; the leader may be set aside" : "");
        }
    }
    me.raft_recv_(io, message);
    me.note_state();
}

// ---- outgoing messages: one that raft_uv failed to write goes out again, once ----
//
// raft_uv writes each message to a peer on one outgoing connection and learns that the peer is
// gone only when a write fails; that message is lost, and raft_uv connects anew. A peer that
// restarted is reached again only through such a failure, so the first message to it after a
// restart would be lost: in an election a vote request or its answer, after one the new
// leader's first AppendEntries; either costs a heartbeat or a whole election timeout more. (The
// peer's process resets its incoming connections when it dies, raft_transport.cc, so the first
// write after a restart does fail rather than vanish.) The message is sent again on the new
// connection; Raft takes a duplicate as it takes the first. libraft learns the outcome of the
// second try: if that fails too (raft_uv drops what waits for a peer it cannot reach), its
// replication falls back to probing the follower as for any failed send.

struct raft_log_io::send_op {
    raft_log_io* owner = nullptr;
    struct raft_io_send req {};  // raft_uv's
    // A copy of libraft's message for the second try: what its pointers point at (entries,
    // snapshot data) libraft keeps until its callback, except the address, which points into
    // its configuration and so is copied too.
    struct raft_message message {};
    std::string address;
    struct raft_io_send* raft_req = nullptr;  // libraft's
    raft_io_send_cb raft_cb = nullptr;
    bool again = false;  // sent a second time
};

int raft_log_io::on_send(struct raft_io* io, struct raft_io_send* req,
                         const struct raft_message* message, raft_io_send_cb cb) {
    raft_log_io& me = self(io);
    auto op = std::make_unique<send_op>();
    op->owner = &me;
    op->req.data = op.get();
    op->message = *message;
    if (message->server_address != nullptr) {
        op->address = message->server_address;
        op->message.server_address = op->address.c_str();
    }
    op->raft_req = req;
    op->raft_cb = cb;
    const int rv = me.uv_send_(io, &op->req, &op->message, on_sent);
    if (rv == 0) op.release();
    return rv;
}

void raft_log_io::on_sent(struct raft_io_send* req, int status) {
    std::unique_ptr<send_op> op(static_cast<send_op*>(req->data));
    raft_log_io& me = *op->owner;
    if (status == RAFT_IOERR && !op->again && !me.closing_) {
        op->again = true;
        spdlog::debug("raft {}: message to node {} not written; sending it again",
                      me.dir_.filename().string(), op->message.server_id);
        if (me.uv_send_(&me.box_.io, &op->req, &op->message, on_sent) == 0) {
            op.release();
            return;
        }
    }
    if (op->raft_cb != nullptr) op->raft_cb(op->raft_req, status);  // libraft may pass none
}

// ---- synchronous calls, on the loop thread with no job running (libraft makes them before
// raft_start, or, for the vote, at any time: the vote file is not the job's) ----

int raft_log_io::on_load(struct raft_io* io, raft_term* term, raft_id* voted_for,
                         struct raft_snapshot** snapshot, raft_index* start_index,
                         struct raft_entry* entries[], size_t* n_entries) {
    raft_log_io& me = self(io);
    ES_ASSERT(!me.busy());
    raft_log_store& store = *me.store_;
    *term = me.vote_.term;
    *voted_for = me.vote_.voted_for;
    *snapshot = nullptr;
    *entries = nullptr;
    *n_entries = 0;
    *start_index = store.first_index();
    const size_t n = store.next_index() - store.first_index();
    if (n > 0) {
        auto* array = static_cast<struct raft_entry*>(raft_malloc(n * sizeof(struct raft_entry)));
        if (array == nullptr) return RAFT_NOMEM;
        size_t filled = 0;
        bool no_memory = false;
        status s = store.for_each_entry(
            [&](uint64_t, uint64_t entry_term, uint8_t type, std::span<const std::byte> data) {
                if (no_memory) return;
                // Each entry its own batch: libraft frees an entry's batch once nothing
                // refers to it.
                void* base = raft_malloc(std::max<size_t>(data.size(), 1));
                if (base == nullptr) {
                    no_memory = true;
                    return;
                }
                if (!data.empty()) std::memcpy(base, data.data(), data.size());
                struct raft_entry& e = array[filled++];
                e.term = entry_term;
                e.type = type;
                e.buf.base = base;
                e.buf.len = data.size();
                e.batch = base;
            });
        if (!s || no_memory || filled != n) {
            for (size_t i = 0; i < filled; ++i) raft_free(array[i].batch);
            raft_free(array);
            if (no_memory) return RAFT_NOMEM;
            return me.fail_with(s ? make_error(errc::io_error, "the Raft log changed while loaded")
                                  : s.err());
        }
        *entries = array;
        *n_entries = n;
    }
    if (store.snapshot()) {
        *snapshot = to_raft_snapshot(*store.snapshot());
        if (*snapshot == nullptr) {
            for (size_t i = 0; i < *n_entries; ++i) raft_free((*entries)[i].batch);
            raft_free(*entries);
            *entries = nullptr;
            *n_entries = 0;
            return RAFT_NOMEM;
        }
    }
    return 0;
}

int raft_log_io::store_vote(raft_vote vote) {
    if (status s = write_raft_vote(dir_, vote, vote_sequence_ + 1); !s) return fail_with(s.err());
    vote_ = vote;
    ++vote_sequence_;
    return 0;
}

int raft_log_io::append_configuration(uint64_t term, const struct raft_configuration* conf) {
    struct raft_buffer buf {};
    int rv = raft_configuration_encode(conf, &buf);
    if (rv != 0) return rv;
    const raft_log_entry entry{term,
                               static_cast<uint8_t>(RAFT_CHANGE),
                               {static_cast<const std::byte*>(buf.base), buf.len}};
    status s = store_->append({&entry, 1});
    if (s) s = store_->sync();
    raft_free(buf.base);
    return s ? 0 : fail_with(s.err());
}

int raft_log_io::on_bootstrap(struct raft_io* io, const struct raft_configuration* conf) {
    raft_log_io& me = self(io);
    ES_ASSERT(!me.busy());
    // Empty but for a bootstrap's own vote (a crash between its two writes): do it again.
    if (me.vote_.term > 1 || me.vote_.voted_for != 0 || me.store_->next_index() != 1 ||
        me.store_->snapshot()) {
        return RAFT_CANTBOOTSTRAP;
    }
    // As raft_uv does: the term first, then the configuration as entry 1 of term 1.
    if (int rv = me.store_vote({1, 0}); rv != 0) return rv;
    return me.append_configuration(1, conf);
}

int raft_log_io::on_recover(struct raft_io* io, const struct raft_configuration* conf) {
    raft_log_io& me = self(io);
    ES_ASSERT(!me.busy());
    return me.append_configuration(me.vote_.term, conf);
}

int raft_log_io::on_set_term(struct raft_io* io, raft_term term) {
    return self(io).store_vote({term, 0});
}

int raft_log_io::on_set_vote(struct raft_io* io, raft_id server_id) {
    raft_log_io& me = self(io);
    return me.store_vote({me.vote_.term, server_id});
}

// ---- queued calls ----

int raft_log_io::on_append(struct raft_io* io, struct raft_io_append* req,
                           const struct raft_entry entries[], unsigned n, raft_io_append_cb cb) {
    op o;
    o.what = op::kind::append;
    o.append_req = req;
    o.append_cb = cb;
    o.entries.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
        o.entries.push_back(raft_log_entry{
            entries[i].term,
            static_cast<uint8_t>(entries[i].type),
            {static_cast<const std::byte*>(entries[i].buf.base), entries[i].buf.len}});
    }
    return self(io).submit(std::move(o));
}

int raft_log_io::on_truncate(struct raft_io* io, raft_index index) {
    op o;
    o.what = op::kind::truncate;
    o.index = index;
    return self(io).submit(std::move(o));
}

int raft_log_io::on_snapshot_put(struct raft_io* io, unsigned trailing,
                                 struct raft_io_snapshot_put* req,
                                 const struct raft_snapshot* snapshot, raft_io_snapshot_put_cb cb) {
    raft_log_io& me = self(io);
    if (me.closing_) return RAFT_CANCELED;
    op o;
    o.what = op::kind::snapshot_put;
    o.put_req = req;
    o.put_cb = cb;
    // Copied now: the snapshot is small (it carries no events), and libraft's buffers are then
    // free to go whenever libraft wants.
    o.record = to_record(*snapshot);
    o.trailing = trailing;
    // A snapshot this member took covers state applied to the machine; one installed from the
    // leader (trailing 0) brings its state with it.
    if (trailing > 0 && me.before_snapshot_) {
        me.prepare_snapshot(std::move(o));
    } else {
        me.enqueue(std::move(o));
    }
    return 0;
}

void raft_log_io::prepare_snapshot(op o) {
    ES_ASSERT_MSG(preparing_ == nullptr, "libraft stores one snapshot at a time");
    preparing_ = std::make_unique<op>(std::move(o));
    prepare_work_.data = this;
    const int rv = uv_queue_work(
        loop_, &prepare_work_,
        [](uv_work_t* w) {
            auto* me = static_cast<raft_log_io*>(w->data);
            me->prepared_ = me->before_snapshot_();
        },
        [](uv_work_t* w, int) {
            auto* me = static_cast<raft_log_io*>(w->data);
            std::unique_ptr<op> o = std::move(me->preparing_);
            if (!me->prepared_) {
                spdlog::error("Raft log {}: the snapshot at {} is not stored: {}",
                              me->dir_.string(), o->record->index, me->prepared_.err().message);
                me->complete(*o, RAFT_IOERR);
                me->maybe_finish_close();
            } else {
                me->enqueue(std::move(*o));
            }
        });
    ES_ASSERT_MSG(rv == 0, "uv_queue_work takes any request with a callback");
}

int raft_log_io::on_snapshot_get(struct raft_io* io, struct raft_io_snapshot_get* req,
                                 raft_io_snapshot_get_cb cb) {
    op o;
    o.what = op::kind::snapshot_get;
    o.get_req = req;
    o.get_cb = cb;
    return self(io).submit(std::move(o));
}

int raft_log_io::submit(op o) {
    // libraft makes no such call once it is closing; were it to, the work would outlive us.
    if (closing_) return RAFT_CANCELED;
    enqueue(std::move(o));
    return 0;
}

void raft_log_io::enqueue(op o) {
    pending_.push_back(std::move(o));
    if (!busy_) start_job();
}

void raft_log_io::start_job() {
    ES_ASSERT(!busy_ && running_.empty());
    if (pending_.empty()) return;
    running_.swap(pending_);
    busy_ = true;
    work_.data = this;
    const int rv = uv_queue_work(
        loop_, &work_, [](uv_work_t* w) { static_cast<raft_log_io*>(w->data)->run_job(); },
        [](uv_work_t* w, int) { static_cast<raft_log_io*>(w->data)->finish_job(); });
    ES_ASSERT_MSG(rv == 0, "uv_queue_work takes any request with a callback");
}

void raft_log_io::run_job() {
    raft_log_store& store = *store_;
    bool wrote = false;
    for (op& o : running_) {
        switch (o.what) {
            case op::kind::append:
                o.outcome = store.append(o.entries);
                wrote = true;
                break;
            case op::kind::truncate:
                o.outcome = store.truncate(o.index);
                wrote = true;
                break;
            case op::kind::snapshot_put:
                o.outcome = store.put_snapshot(std::move(*o.record), o.trailing);
                o.record.reset();
                break;
            case op::kind::snapshot_get:
                if (store.snapshot()) o.record = *store.snapshot();
                break;
        }
    }
    // One fdatasync makes every append of the job durable before any is acknowledged.
    if (!wrote) return;
    status synced = store.sync();
    if (synced) return;
    for (op& o : running_) {
        if (o.what == op::kind::append && o.outcome) o.outcome = synced.err();
    }
}

void raft_log_io::finish_job() {
    busy_ = false;
    std::vector<op> done;
    done.swap(running_);
    // The next job starts before libraft hears of this one, so that the disk is busy while
    // libraft applies what this job made durable. While closing too: what libraft handed over
    // is written before raft_uv closes (libraft 0.15 cannot take a failed append once it is
    // closing: its leader's failure path reads state that closing freed).
    start_job();
    for (op& o : done) {
        if (!o.outcome) {
            // Fail-stop, as Redpanda does on a storage error: the log's state on disk is
            // unknown, and libraft 0.15 cannot take a failed append once it is closing. A
            // restart reopens the log, cutting off what was not written whole.
            spdlog::critical("Raft log {}: {}; stopping the node", dir_.string(),
                             o.outcome.err().message);
            spdlog::default_logger()->flush();
            std::abort();
        }
        complete(o, 0);
    }
    maybe_finish_close();
}

void raft_log_io::maybe_finish_close() {
    if (closing_ && !busy()) finish_close();
}

void raft_log_io::complete(op& o, int rv) {
    switch (o.what) {
        case op::kind::append:
            o.append_cb(o.append_req, rv);
            break;
        case op::kind::truncate:
            break;
        case op::kind::snapshot_put:
            o.put_cb(o.put_req, rv);
            break;
        case op::kind::snapshot_get: {
            struct raft_snapshot* s = nullptr;
            if (rv == 0 && o.record) {
                s = to_raft_snapshot(*o.record);
                if (s == nullptr) rv = RAFT_NOMEM;
            } else if (rv == 0) {
                rv = RAFT_NOTFOUND;  // libraft asks only once it has stored one
            }
            o.get_cb(o.get_req, s, rv);
            break;
        }
    }
}

void raft_log_io::on_close(struct raft_io* io, raft_io_close_cb cb) {
    raft_log_io& me = self(io);
    ES_ASSERT(!me.closing_);
    me.closing_ = true;
    me.close_cb_ = cb;
    me.maybe_finish_close();
}

void raft_log_io::finish_close() {
    // Reached from on_close() or once the last work is done, whichever comes later; a
    // callback of that work may itself have closed.
    if (closed_) return;
    closed_ = true;
    uv_close_(&box_.io, close_cb_);
}

}  // namespace es::replication
