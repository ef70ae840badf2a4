// The consumer (include/eventstream/consumer.h): one subscription per assigned partition, so
// that each partition can be resumed from its own offset after a reconnection and gets its own
// credit. Pushed frames arrive on the connection's I/O thread and are queued; poll() takes
// from the queue on the application's thread and grants credit back.
#include "eventstream/consumer.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "client/close_turn.h"
#include "client/connection.h"
#include "client/credit_window.h"
#include "client/requests.h"
#include "client/routing.h"
#include "client/wire.h"
#include "common/clock.h"
#include "protocol/codec.h"

namespace eventstream {

using es::client::owned_frame;
namespace protocol = es::protocol;

namespace {

// A record's bytes beyond its event's: the 32-byte record header, the headers' entries
// (at most 64 KiB) and padding.
// Records the callback thread takes per poll.
constexpr size_t callback_batch_records = 256;
constexpr uint64_t largest_record_overhead_bytes = 32 + 64 * 1024 + 8;

}  // namespace

struct consumer::impl {
    // Constant after construction.
    consumer_options options;
    start_position start;
    std::unique_ptr<es::client::connection> conn;

    struct partition_state {
        uint64_t request_id = 0;                // of the current SUBSCRIBE stream, 0 when none
        uint64_t subscription_id = 0;           // the server's id for it
        std::optional<uint64_t> next_received;  // offset after the last event queued
        std::optional<uint64_t> position;       // offset after the last event handed out
        std::optional<uint64_t> committed;      // last offset committed by us
        es::client::credit_window credit;
    };
    // What the I/O thread queues for poll(): one EVENTS frame whose records poll() decodes one
    // at a time (so that each record's strings are made and freed on the application's
    // thread, and a frame is queued with one lock), or a gap notice, or the end of a
    // subscription.
    struct queued {
        uint32_t partition = 0;
        std::string body;          // the EVENTS frame's body
        size_t records_at = 0;     // where its records start in `body`
        size_t records_bytes = 0;  // and how long they are (checked by check_records)
        size_t next_at = 0;        // the next record to hand out, from records_at
        uint32_t left = 0;         // records not yet handed out
        std::optional<consumer_record> gap;
        std::optional<error> ended;

        std::string_view records() const {
            return std::string_view(body).substr(records_at, records_bytes);
        }
    };

    mutable std::mutex mu;
    std::condition_variable arrived;
    // Guarded by mu.
    std::string topic;
    // The byte window: options.credit_bytes, raised to the topic's largest record, which the
    // server holds back until the credit allows it whole (docs/protocol.md).
    uint64_t credit_bytes = 0;
    std::map<uint32_t, partition_state> parts;
    std::deque<queued> queue;
    bool closed = false;
    int64_t last_commit_ns = 0;

    std::thread callback_thread;
    std::atomic<bool> callback_stop{false};
    // The consumer whose handler this thread runs (start()'s thread), if any.
    static inline thread_local const impl* calling_back = nullptr;
    es::client::close_turn turn;  // of close(); guarded by mu

    // Sends SUBSCRIBE for one partition from `from`; `on_done` gets the answer. Any thread.
    void subscribe_partition(uint32_t p, start_position from, std::function<void(status)> on_done) {
        protocol::subscribe_request req;
        req.topic = topic;
        req.group = options.group;
        req.start = es::client::to_wire(from.where);
        req.fallback = es::client::to_wire(from.fallback);
        req.start_value = from.value;
        req.credit_events = options.credit_events;
        req.credit_bytes = credit_bytes;
        req.partitions = {p};
        const uint64_t id = conn->next_request_id();
        {
            std::lock_guard lk(mu);
            auto& ps = parts.at(p);
            ps.request_id = id;
            ps.subscription_id = 0;
            ps.credit.reset();
        }
        std::string frame;
        protocol::encode(frame, id, req);
        conn->stream(
            id, std::move(frame),
            [this, p, id, on_done = std::move(on_done)](result<owned_frame> r) {
                status s = r ? es::client::answer_error(*r, protocol::message_type::subscribed)
                             : status(r.err());
                if (s) {
                    auto sub = protocol::decode_subscribed(r->body);
                    if (!sub) {
                        s = error{error_code::protocol_error,
                                  "bad SUBSCRIBED: " + sub.err().message};
                    } else {
                        std::lock_guard lk(mu);
                        auto& ps = parts.at(p);
                        if (ps.request_id == id) ps.subscription_id = sub->subscription_id;
                    }
                }
                on_done(s);
            },
            [this, p, id](owned_frame&& f) { on_push(p, id, std::move(f)); },
            [](const error&) {
                // Lost with the connection: on_reconnect() subscribes again.
            });
    }

    // I/O thread: a frame pushed on partition p's subscription. An EVENTS frame is checked
    // whole here (a bad one ends the subscription before any of it is handed out) and queued
    // as it came.
    void on_push(uint32_t p, uint64_t id, owned_frame&& f) {
        queued q;
        q.partition = p;
        std::optional<uint64_t> last_offset;  // of the records queued
        switch (f.header.type) {
            case protocol::message_type::events: {
                auto ev = protocol::decode_events(f.body);
                if (!ev) {
                    q.ended = error{error_code::protocol_error, "bad EVENTS: " + ev.err().message};
                    break;
                }
                // Filed under the partition this subscription is for, whatever the frame says,
                // so that a confused server cannot make us touch a partition we do not track.
                auto checked = es::client::check_records(ev->records, ev->count, p);
                if (!checked) {
                    q.ended = checked.err();
                    break;
                }
                if (ev->count == 0) return;
                last_offset = **checked;
                q.records_at = static_cast<size_t>(ev->records.data() - f.body.data());
                q.records_bytes = ev->records.size();
                q.left = ev->count;
                q.body = std::move(f.body);
                break;
            }
            case protocol::message_type::gap: {
                auto g = protocol::decode_gap(f.body);
                if (!g) {
                    q.ended = error{error_code::protocol_error, "bad GAP: " + g.err().message};
                    break;
                }
                consumer_record r;
                r.kind = record_kind::gap;
                r.topic = topic;
                r.partition = p;
                r.gap_first = g->first;
                r.gap_last = g->last;
                r.offset = g->last;
                q.gap = std::move(r);
                break;
            }
            case protocol::message_type::subscription_ended: {
                auto e = protocol::decode_subscription_ended(f.body);
                q.ended = e ? es::client::error_from_wire(
                                  e->code, "the subscription to partition " + std::to_string(p) +
                                               " ended: " + e->message)
                            : error{error_code::protocol_error, "bad SUBSCRIPTION_ENDED"};
                break;
            }
            default:
                return;  // a frame type a later version may push; nothing to do
        }
        {
            std::lock_guard lk(mu);
            auto& ps = parts.at(p);
            if (ps.request_id != id) return;  // an old subscription
            if (last_offset) {
                ps.next_received = *last_offset + 1;
            } else if (q.gap) {
                ps.next_received = std::max(ps.next_received.value_or(0), q.gap->gap_last + 1);
            }
            if (q.ended) ps.request_id = 0;
            queue.push_back(std::move(q));
        }
        arrived.notify_all();
    }

    // I/O thread, after a reconnection: each partition subscribes again after what it received.
    void on_reconnect() {
        std::vector<std::pair<uint32_t, start_position>> again;
        {
            std::lock_guard lk(mu);
            if (closed || topic.empty()) return;
            for (auto& [p, ps] : parts) {
                if (ps.request_id == 0) continue;  // ended on the server: stays ended
                again.emplace_back(
                    p, ps.next_received ? start_position::at_offset(*ps.next_received) : start);
            }
        }
        for (auto& [p, from] : again) {
            subscribe_partition(p, from, [this, p = p](status s) {
                if (s) return;
                std::lock_guard lk(mu);
                queued q;
                q.partition = p;
                q.ended = s.err();
                queue.push_back(std::move(q));
                arrived.notify_all();
            });
        }
    }

    status subscribe(const std::string& t, const std::vector<uint32_t>& wanted) {
        {
            std::lock_guard lk(mu);
            if (closed) return error{error_code::closed, "the consumer is closed"};
            if (!topic.empty())
                return error{error_code::invalid_argument, "subscribe() may be called once"};
        }
        auto detail = es::client::describe_topic(*conn, t);
        if (!detail) return std::move(detail).err();
        const uint32_t n = detail->settings.partitions;
        std::vector<uint32_t> mine;
        if (!wanted.empty()) {
            for (uint32_t p : wanted) {
                if (p >= n)
                    return error{error_code::invalid_argument,
                                 "partition " + std::to_string(p) + " out of range: topic " + t +
                                     " has " + std::to_string(n) + " partitions"};
                if (options.member_count > 1 && p % options.member_count != options.member_index)
                    continue;
                mine.push_back(p);
            }
        } else {
            mine = es::client::static_assignment(n, options.member_index, options.member_count);
        }
        if (mine.empty())
            return error{error_code::invalid_argument,
                         "member " + std::to_string(options.member_index) + " of " +
                             std::to_string(options.member_count) + " gets no partition of " + t};
        {
            std::lock_guard lk(mu);
            topic = t;
            credit_bytes = std::max<uint64_t>(
                options.credit_bytes,
                uint64_t(detail->settings.max_event_bytes) + largest_record_overhead_bytes);
            for (uint32_t p : mine)
                parts.emplace(p, partition_state{0,
                                                 0,
                                                 {},
                                                 {},
                                                 {},
                                                 es::client::credit_window(options.credit_events,
                                                                           credit_bytes)});
            last_commit_ns = es::monotonic_ns();
        }
        std::vector<std::future<status>> answers;
        for (uint32_t p : mine) {
            auto pr = std::make_shared<std::promise<status>>();
            answers.push_back(pr->get_future());
            subscribe_partition(p, start, [pr](status s) { pr->set_value(std::move(s)); });
        }
        status first_error;
        for (auto& f : answers) {
            status s = f.get();
            if (!s && first_error) first_error = std::move(s);
        }
        return first_error;
    }

    // Credit to grant to a subscription, once mu is released.
    struct pending_grant {
        uint64_t subscription_id = 0;
        es::client::credit_window::grant credit;
    };

    // Waits up to timeout_ms for something queued. Returns false when nothing came (after an
    // auto commit, if one is due). Errors: closed; the subscription ended (the queue's front,
    // which this then drops). REQUIRES: lk holds mu.
    result<bool> wait_queued(std::unique_lock<std::mutex>& lk, uint32_t timeout_ms) {
        // Waits (and so reads the clock for the deadline) only when nothing is queued.
        const bool got = closed || !queue.empty() ||
                         arrived.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                                          [&] { return closed || !queue.empty(); });
        if (closed) return error{error_code::closed, "the consumer is closed"};
        if (!got) {
            lk.unlock();
            maybe_auto_commit();
            return false;
        }
        if (queue.front().ended) {
            error e = std::move(*queue.front().ended);
            queue.pop_front();
            return e;
        }
        return true;
    }

    // Moves the queue's first record or gap notice into r, and notes the credit it frees.
    // REQUIRES: mu held; the queue's front is an EVENTS frame or a gap, not an end.
    void take_front(consumer_record& r, std::vector<pending_grant>& grants) {
        queued& q = queue.front();
        auto& ps = parts.at(q.partition);
        if (q.gap) {
            r = std::move(*q.gap);
            queue.pop_front();
            ps.position = std::max(ps.position.value_or(0), r.gap_last + 1);
            return;
        }
        // The record's size on the wire is the measure of byte credit.
        const size_t bytes =
            es::client::decode_record(q.records(), q.next_at, topic, q.partition, r);
        q.next_at += bytes;
        if (--q.left == 0) queue.pop_front();
        ps.position = r.offset + 1;
        if (auto g = ps.credit.consumed(bytes); g && ps.subscription_id != 0) {
            if (!grants.empty() && grants.back().subscription_id == ps.subscription_id) {
                grants.back().credit.events += g->events;
                grants.back().credit.bytes += g->bytes;
            } else {
                grants.push_back({ps.subscription_id, *g});
            }
        }
    }

    // When an auto commit is due, the positions of what earlier polls handed out, taken
    // before this poll hands out more: as Kafka's, an auto commit never covers an event the
    // application has not had the next poll's time to process. REQUIRES: mu held.
    std::map<uint32_t, uint64_t> due_auto_commit() {
        return auto_commit_due() ? uncommitted_locked() : std::map<uint32_t, uint64_t>{};
    }

    // After a poll, with mu released: grants the credit taken, then commits what was due.
    void after_taking(const std::vector<pending_grant>& grants,
                      const std::map<uint32_t, uint64_t>& commit_due) {
        for (const pending_grant& g : grants) {
            std::string frame;
            protocol::encode(
                frame, conn->next_request_id(),
                protocol::credit_grant{g.subscription_id, g.credit.events, g.credit.bytes});
            conn->send(std::move(frame));
        }
        if (!commit_due.empty()) (void)commit_offsets(commit_due, false);
    }

    result<std::optional<consumer_record>> poll(uint32_t timeout_ms) {
        std::unique_lock lk(mu);
        auto ready = wait_queued(lk, timeout_ms);
        if (!ready) return std::move(ready).err();
        if (!*ready) return std::optional<consumer_record>{};
        const auto commit_due = due_auto_commit();
        consumer_record r;
        std::vector<pending_grant> grants;
        take_front(r, grants);
        lk.unlock();
        after_taking(grants, commit_due);
        return std::optional<consumer_record>(std::move(r));
    }

    result<size_t> poll(std::vector<consumer_record>& records, size_t max_records,
                        uint32_t timeout_ms) {
        std::unique_lock lk(mu);
        auto ready = wait_queued(lk, timeout_ms);
        if (!ready) {
            records.clear();
            return std::move(ready).err();
        }
        if (!*ready) {  // wait_queued released mu
            records.clear();
            return size_t{0};
        }
        const auto commit_due = due_auto_commit();
        size_t n = 0;
        std::vector<pending_grant> grants;
        // Stops before a subscription's end: the next poll reports it.
        while (n < max_records && !queue.empty() && !queue.front().ended) {
            if (n == records.size()) records.emplace_back();
            take_front(records[n++], grants);
        }
        records.resize(n);
        lk.unlock();
        after_taking(grants, commit_due);
        return n;
    }

    void maybe_auto_commit() {
        bool due = false;
        {
            std::lock_guard lk(mu);
            due = auto_commit_due();
        }
        if (due) (void)commit(false);
    }

    // Whether the auto commit interval has passed since the last one (which this then counts
    // as done). REQUIRES: mu held.
    bool auto_commit_due() {
        if (!options.auto_commit || options.group.empty()) return false;
        const int64_t now = es::monotonic_ns();
        if (now - last_commit_ns < int64_t(options.auto_commit_interval_ms) * 1'000'000) {
            return false;
        }
        last_commit_ns = now;
        return true;
    }

    // The positions not yet committed.
    std::map<uint32_t, uint64_t> uncommitted() const {
        std::lock_guard lk(mu);
        return uncommitted_locked();
    }
    // REQUIRES: mu held.
    std::map<uint32_t, uint64_t> uncommitted_locked() const {
        std::map<uint32_t, uint64_t> out;
        for (const auto& [p, ps] : parts)
            if (ps.position && ps.position != ps.committed) out[p] = *ps.position;
        return out;
    }

    status commit_offsets(const std::map<uint32_t, uint64_t>& offsets, bool wait) {
        if (options.group.empty())
            return error{error_code::invalid_argument, "commit needs a consumer group"};
        std::vector<std::future<status>> answers;
        for (const auto& [p, offset] : offsets) {
            protocol::commit_offset_request req{topic, options.group, p, offset};
            const uint64_t id = conn->next_request_id();
            std::string frame;
            protocol::encode(frame, id, req);
            auto pr = std::make_shared<std::promise<status>>();
            answers.push_back(pr->get_future());
            conn->request(
                id, std::move(frame), [this, pr, p = p, offset = offset](result<owned_frame> r) {
                    status s = r ? es::client::answer_error(*r, protocol::message_type::ok)
                                 : status(r.err());
                    if (s) {
                        std::lock_guard lk(mu);
                        auto it = parts.find(p);
                        if (it != parts.end()) it->second.committed = offset;
                    }
                    pr->set_value(std::move(s));
                });
        }
        if (!wait) return {};
        status first_error;
        for (auto& f : answers) {
            status s = f.get();
            if (!s && first_error) first_error = std::move(s);
        }
        return first_error;
    }

    status commit(bool wait) { return commit_offsets(uncommitted(), wait); }

    result<std::optional<uint64_t>> committed(uint32_t partition) {
        if (options.group.empty())
            return error{error_code::invalid_argument, "committed offsets need a consumer group"};
        std::string t;
        {
            std::lock_guard lk(mu);
            t = topic;
        }
        auto answer = es::client::call_expecting(
            *conn,
            [&](std::string& out, uint64_t id) {
                protocol::encode(out, id,
                                 protocol::fetch_offset_request{t, options.group, partition});
            },
            protocol::message_type::offset);
        if (!answer) return std::move(answer).err();
        auto o = protocol::decode_offset(answer->body);
        if (!o) return error{error_code::protocol_error, "bad OFFSET: " + o.err().message};
        return o->offset;
    }

    void stop_callback() {
        callback_stop.store(true);
        if (callback_thread.joinable()) {
            // From the handler's own thread: the stop stays asked, and the loop ends once the
            // handler returns; whoever stops or closes next joins the thread.
            if (callback_thread.get_id() == std::this_thread::get_id()) return;
            callback_thread.join();
        }
        callback_stop.store(false);
    }

    status close() {
        bool already = false;
        {
            std::unique_lock lk(mu);
            // From the handler's thread, which the closing thread joins: it is closing already,
            // and waiting would deadlock.
            if (turn.in_progress() && calling_back == this) return {};
            // Another thread is closing: wait for it, so that every caller returns closed.
            turn.take(lk);
            already = closed;
        }
        es::client::close_turn::holder give_back(turn, mu);
        // Closed already (perhaps by the handler itself): the handler's thread may still need
        // joining, one caller at a time.
        if (already) {
            stop_callback();
            return {};
        }
        return close_once();
    }

    status close_once() {
        stop_callback();
        status s;
        if (options.auto_commit && !options.group.empty()) s = commit(true);
        std::vector<uint64_t> subs;
        {
            std::lock_guard lk(mu);
            for (auto& [p, ps] : parts)
                if (ps.request_id != 0 && ps.subscription_id != 0)
                    subs.push_back(ps.subscription_id);
        }
        std::vector<std::future<void>> done;
        for (uint64_t sub : subs) {
            const uint64_t id = conn->next_request_id();
            std::string frame;
            protocol::encode(frame, id, protocol::unsubscribe_request{sub});
            auto pr = std::make_shared<std::promise<void>>();
            done.push_back(pr->get_future());
            conn->request(id, std::move(frame), [pr](result<owned_frame>) { pr->set_value(); });
        }
        for (auto& f : done) f.wait_for(std::chrono::seconds(2));
        {
            std::lock_guard lk(mu);
            closed = true;
        }
        arrived.notify_all();
        conn->close();
        return s;
    }
};

consumer::consumer(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

consumer::~consumer() {
    if (impl_) (void)impl_->close();
}

result<std::unique_ptr<consumer>> consumer::create(const consumer_options& options) {
    if (options.member_count == 0 || options.member_index >= options.member_count)
        return error{error_code::invalid_argument, "member_index must be below member_count (got " +
                                                       std::to_string(options.member_index) +
                                                       " of " +
                                                       std::to_string(options.member_count) + ")"};
    if (options.member_count > 1 && options.group.empty())
        return error{error_code::invalid_argument, "group members need a group name"};
    if (options.credit_events == 0 || options.credit_bytes == 0)
        return error{error_code::invalid_argument, "credit_events and credit_bytes must be > 0"};
    if (options.start && options.start->where == start_position::kind::committed &&
        options.group.empty())
        return error{error_code::invalid_argument, "start from committed needs a group"};
    auto i = std::make_unique<impl>();
    i->options = options;
    i->start = options.start           ? *options.start
               : options.group.empty() ? start_position::latest()
                                       : start_position::committed();
    impl* raw = i.get();
    // The handler runs on the I/O thread, which the connection stops before `i` goes away.
    auto conn = es::client::connection::open(options.connection, [raw] { raw->on_reconnect(); });
    if (!conn) return std::move(conn).err();
    i->conn = std::move(*conn);
    return std::unique_ptr<consumer>(new consumer(std::move(i)));
}

status consumer::subscribe(const std::string& topic, const std::vector<uint32_t>& partitions) {
    return impl_->subscribe(topic, partitions);
}

std::vector<uint32_t> consumer::assignment() const {
    std::lock_guard lk(impl_->mu);
    std::vector<uint32_t> out;
    for (const auto& [p, ps] : impl_->parts) out.push_back(p);
    return out;
}

result<std::optional<consumer_record>> consumer::poll(uint32_t timeout_ms) {
    return impl_->poll(timeout_ms);
}

result<size_t> consumer::poll(std::vector<consumer_record>& records, size_t max_records,
                              uint32_t timeout_ms) {
    if (max_records == 0) return error{error_code::invalid_argument, "max_records must be > 0"};
    return impl_->poll(records, max_records, timeout_ms);
}

status consumer::start(std::function<void(const consumer_record&)> handler,
                       std::function<void(const error&)> on_error) {
    if (impl_->callback_thread.joinable())
        return error{error_code::invalid_argument, "the callback thread is running"};
    impl* i = impl_.get();
    i->callback_thread =
        std::thread([i, handler = std::move(handler), on_error = std::move(on_error)] {
            impl::calling_back = i;
            std::vector<consumer_record> records;
            while (!i->callback_stop.load()) {
                auto n = i->poll(records, callback_batch_records, 100);
                if (!n) {
                    if (on_error && n.err().code != error_code::closed) on_error(n.err());
                    return;
                }
                for (const consumer_record& r : records) handler(r);
            }
        });
    return {};
}

void consumer::stop() {
    impl_->stop_callback();
}

status consumer::commit() {
    return impl_->commit(false);
}
status consumer::commit_sync() {
    return impl_->commit(true);
}
status consumer::commit_sync(const std::map<uint32_t, uint64_t>& offsets) {
    return impl_->commit_offsets(offsets, true);
}

result<std::optional<uint64_t>> consumer::committed(uint32_t partition) {
    return impl_->committed(partition);
}

std::map<uint32_t, uint64_t> consumer::positions() const {
    std::lock_guard lk(impl_->mu);
    std::map<uint32_t, uint64_t> out;
    for (const auto& [p, ps] : impl_->parts)
        if (ps.position) out[p] = *ps.position;
    return out;
}

status consumer::close() {
    return impl_->close();
}

}  // namespace eventstream
