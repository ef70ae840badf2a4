// The producer (include/eventstream/producer.h): send() fills the batch_accumulator under a
// mutex. A batch that is ready at once (full, or due with send_when_idle) goes to the
// connection from the thread that made it ready: send() for a new or full batch, the
// connection's I/O thread for a batch an ack let go. A sender thread sends what only time
// makes ready (lingers, retry back-offs). Answers arrive on the I/O thread, which reports
// deliveries or puts batches back for a retry.
#include "eventstream/producer.h"

#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "client/batch_accumulator.h"
#include "client/close_turn.h"
#include "client/connection.h"
#include "client/requests.h"
#include "client/routing.h"
#include "client/wire.h"
#include "common/assert.h"
#include "common/clock.h"
#include "protocol/codec.h"

namespace eventstream {

using es::client::batch;
using es::client::owned_frame;
using es::client::pending_event;
namespace protocol = es::protocol;

namespace {

// Room left in a frame for the PUBLISH fields beyond the records, per event and per frame.
constexpr size_t publish_frame_overhead_bytes = 64 * 1024;

uint64_t random_producer_id() {
    std::random_device rd;
    std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(es::monotonic_ns()));
    uint64_t id = 0;
    while (id == 0) id = gen();
    return id;
}

}  // namespace

struct producer::impl {
    // Constant after construction.
    producer_options options;
    uint64_t producer_id = 0;
    es::client::retry_policy retry;
    std::unique_ptr<es::client::connection> conn;

    struct topic_state {
        uint32_t partitions = 0;
        uint32_t sticky = 0;                               // partition of keyless events
        uint64_t sticky_seals = 0;                         // its seal count when chosen
        es::client::batch_accumulator::topic_ref batches;  // the topic in `acc`
    };

    // Held while batches are taken from `acc` and handed to the connection, by whichever
    // thread sends them, so a partition's batches reach the connection in the order taken.
    // Taken before mu, never while holding it.
    std::mutex send_mu;
    // The impl whose batches this thread is handing to the connection (see dispatch()).
    static inline thread_local const impl* dispatching = nullptr;
    std::mutex mu;
    std::condition_variable wake_sender;  // an earlier deadline, a retry, a flush or close
    std::condition_variable room;         // buffer space freed, or everything reported
    // Guarded by mu.
    es::client::batch_accumulator acc;
    std::map<std::string, topic_state> topics;
    // Idempotence: partitions that moved to a fresh producer id because one of their batches
    // failed for good (its sequence numbers left a gap the node would refuse every later batch
    // for); the others use producer_id.
    std::map<std::pair<std::string, uint32_t>, uint64_t> fresh_ids;
    uint64_t buffered_bytes = 0;
    uint32_t reporting = 0;  // batches released whose reports have not all been made
    uint32_t flush_requests = 0;
    // When the sleeping sender wakes by itself (the maximum: not by itself); 0: it is awake and
    // looks at `acc` again before it sleeps.
    int64_t sender_wake_ns = 0;
    bool closing = false;
    bool closed = false;
    es::client::close_turn turn;  // of close(); guarded by mu

    std::thread sender;

    explicit impl(const producer_options& o)
        : options(o),
          acc(es::client::batching_limits{
              o.batch_events_max, o.batch_bytes_max, static_cast<int64_t>(o.linger_ms * 1e6),
              std::max<uint32_t>(o.max_in_flight_per_partition, 1), o.send_when_idle}) {
        retry.backoff_initial_ns = int64_t(o.retry_backoff_initial_ms) * 1'000'000;
        retry.backoff_max_ns = int64_t(o.retry_backoff_max_ms) * 1'000'000;
        retry.delivery_timeout_ns = int64_t(o.delivery_timeout_ms) * 1'000'000;
    }

    // The partition count of `topic`, asked of the server at the first use.
    result<uint32_t> partitions_of(const std::string& topic) {
        {
            std::lock_guard lk(mu);
            auto it = topics.find(topic);
            if (it != topics.end()) return it->second.partitions;
        }
        auto detail = es::client::describe_topic(*conn, topic);
        if (!detail) return std::move(detail).err();
        const uint32_t n = detail->settings.partitions;
        if (n == 0)
            return error{error_code::protocol_error, "topic " + topic + " has 0 partitions"};
        std::lock_guard lk(mu);
        auto& t = topics[topic];
        if (t.partitions == 0) {
            t.partitions = n;
            t.sticky = static_cast<uint32_t>(random_producer_id() % n);
            t.batches = acc.topic(topic);
        }
        return t.partitions;
    }

    // `e` is read (copied into its batch) before this returns.
    status send(const std::string& topic, const event_view& e, delivery_callback done,
                std::optional<uint32_t> partition) {
        if (auto bad = es::client::check_headers(e); !bad) return bad;
        const size_t bytes = es::client::event_wire_bytes(e);
        if (bytes > options.batch_bytes_max)
            return error{error_code::too_large, "the event takes " + std::to_string(bytes) +
                                                    " bytes, more than batch_bytes_max (" +
                                                    std::to_string(options.batch_bytes_max) + ")"};
        std::unique_lock lk(mu);
        auto known = topics.find(topic);
        if (known == topics.end()) {
            // The first event for this topic: its partition count is asked of the server,
            // without holding the lock.
            lk.unlock();
            auto n = partitions_of(topic);
            if (!n) return std::move(n).err();
            lk.lock();
            known = topics.find(topic);
        }
        const uint32_t n = known->second.partitions;
        if (partition && *partition >= n)
            return error{error_code::invalid_argument,
                         "partition " + std::to_string(*partition) + " out of range: topic " +
                             topic + " has " + std::to_string(n) + " partitions"};
        std::optional<std::chrono::steady_clock::time_point> deadline;
        while (!closing && buffered_bytes + bytes > options.buffer_bytes_max) {
            if (!deadline) {
                deadline = std::chrono::steady_clock::now() +
                           std::chrono::milliseconds(options.max_block_ms);
            }
            if (!options.block_when_full ||
                room.wait_until(lk, *deadline) == std::cv_status::timeout)
                if (buffered_bytes + bytes > options.buffer_bytes_max)
                    return error{error_code::queue_full,
                                 "the producer's buffer is full (buffer_bytes_max " +
                                     std::to_string(options.buffer_bytes_max) + ")"};
        }
        if (closing) return error{error_code::closed, "the producer is closed"};
        auto& t = known->second;
        uint32_t p = 0;
        if (partition) {
            p = *partition;
        } else if (e.key) {
            p = es::client::partition_for_key(*e.key, t.partitions);
        } else {
            if (acc.seals(t.batches, t.sticky) != t.sticky_seals) {
                t.sticky = (t.sticky + 1) % t.partitions;
                t.sticky_seals = acc.seals(t.batches, t.sticky);
            }
            p = t.sticky;
        }
        buffered_bytes += bytes;
        const bool changed = acc.add(t.batches, p, pending_event{e, std::move(done), bytes},
                                     es::client::batch_accumulator::clock_fn{&es::monotonic_ns});
        lk.unlock();
        // An event joining a batch already open changes nothing: no batch became ready and no
        // deadline moved.
        if (changed) dispatch();
        return {};
    }

    // Sends every batch ready now, from the calling thread, and wakes the sender if it sleeps
    // past the next deadline in `acc` (a linger started, or a retry is due earlier).
    // REQUIRES: neither mu nor send_mu held.
    void dispatch() {
        // Re-entry on this thread, under send_mu, would deadlock. It takes a request failed
        // inline (the connection fails requests inline only once closed, which close() does
        // after the last hand-over) that releases its batch; should that ever happen, the
        // sender sends what it made ready instead.
        if (dispatching == this) {
            wake_sender.notify_one();
            return;
        }
        std::lock_guard order(send_mu);
        std::unique_lock lk(mu);
        take_and_send(lk);
    }

    // Takes the batches ready now and hands them to the connection in the order taken.
    // Returns how many; mu is let go only when there are some (to send them).
    // REQUIRES: send_mu held, and mu held by `lk`.
    size_t take_and_send(std::unique_lock<std::mutex>& lk) {
        auto ready = acc.take_ready(es::monotonic_ns(), flush_requests > 0 || closing);
        wake_sender_if_late();
        if (ready.empty()) return 0;
        for (auto& b : ready) {
            // A batch keeps the id it was first sent under through its retries.
            if (b.attempts == 1) b.producer_id = id_for(b.topic, b.partition);
        }
        lk.unlock();
        // Restored, not cleared: a callback run inline may be another producer's send().
        struct restore {
            const impl* previous = dispatching;
            ~restore() { dispatching = previous; }
        } on_exit;
        dispatching = this;
        for (auto& b : ready) send_batch(std::make_shared<batch>(std::move(b)));
        return ready.size();
    }

    // REQUIRES: mu held.
    void wake_sender_if_late() {
        if (sender_wake_ns == 0) return;  // awake: it looks at acc before it sleeps again
        const auto next = acc.next_wake_ns();
        if (next && *next < sender_wake_ns) wake_sender.notify_one();
    }

    // Sends what time makes ready: batches whose linger or retry back-off ends, and
    // everything at a flush or close.
    void run_sender() {
        for (;;) {
            std::unique_lock order(send_mu);
            std::unique_lock lk(mu);
            if (take_and_send(lk) > 0) continue;
            if (closed) return;
            // Nothing is ready, seen under mu, which is held until the wait: a flush, a retry
            // or close() that comes after finds the sender waiting and wakes it.
            order.unlock();
            auto wake = acc.next_wake_ns();
            sender_wake_ns =
                wake ? std::max<int64_t>(*wake, 1) : std::numeric_limits<int64_t>::max();
            if (wake) {
                const int64_t wait = std::max<int64_t>(*wake - es::monotonic_ns(), 0);
                wake_sender.wait_for(lk, std::chrono::nanoseconds(wait));
            } else {
                wake_sender.wait(lk);
            }
            sender_wake_ns = 0;
        }
    }

    void send_batch(std::shared_ptr<batch> b) {
        protocol::publish_head head;
        head.topic = b->topic;
        head.acks = es::client::to_wire(options.ack);
        head.partition = b->partition;
        head.producer_id = b->producer_id;
        head.first_sequence = b->producer_id ? b->first_sequence : 0;
        const uint64_t id = conn->next_request_id();
        const auto count = static_cast<uint32_t>(b->size());
        if (options.ack == acks::none) {
            std::string frame;
            protocol::encode_publish(frame, id, head, count, b->records);
            conn->send(std::move(frame), [this, b](status s) {
                if (s) {
                    complete(b, {});
                } else {
                    failed(b, s.err());
                }
            });
            return;
        }
        // The records go from the batch straight into the connection's write buffer; the
        // batch stays whole for a retry.
        std::string frame_head;
        protocol::encode_publish_head(frame_head, id, head, count, b->records.size());
        const std::string_view records = b->records;
        conn->request_with_tail(
            id, std::move(frame_head), records, b, [this, b](result<owned_frame> r) {
                if (!r) return failed(b, r.err());
                auto bad = es::client::answer_error(*r, protocol::message_type::publish_ack);
                if (!bad) return failed(b, bad.err());
                auto ack = protocol::decode_publish_ack(r->body);
                if (!ack)
                    return failed(b, error{error_code::protocol_error,
                                           "bad PUBLISH_ACK: " + ack.err().message});
                // The node may have appended the batch in several parts (docs/protocol.md):
                // in the order listed, they cover its events one after the other.
                uint64_t covered = 0;
                for (const protocol::batch_ack& part : ack->batches) {
                    if (part.partition != b->partition) covered = UINT64_MAX;
                    if (covered != UINT64_MAX) covered += part.count;
                }
                if (ack->batches.empty() || covered != b->size())
                    return failed(b, error{error_code::protocol_error,
                                           "PUBLISH_ACK does not match the batch sent"});
                complete(b, ack->batches);
            });
    }

    // On the I/O thread: the batch is appended (`parts` in the order appended, covering its
    // events one after the other) or written out (acks=0: no parts).
    void complete(const std::shared_ptr<batch>& b, std::span<const protocol::batch_ack> parts) {
        release(b);
        // One report for the batch, its offset set for each event in turn (the callbacks get
        // it by reference, for the length of the call).
        delivery d;
        d.topic = b->topic;
        d.partition = b->partition;
        delivery_result report(std::move(d));
        size_t part = 0;
        uint64_t in_part = 0;  // events of parts[part] before event i
        for (size_t i = 0; i < b->size(); ++i, ++in_part) {
            while (part < parts.size() && in_part == parts[part].count) {
                ++part;
                in_part = 0;
            }
            if (!b->done[i]) continue;
            const bool acked = part < parts.size();
            report->offset =
                acked && parts[part].offset_known ? int64_t(parts[part].base_offset + in_part) : -1;
            report->duplicate = acked && parts[part].duplicate;
            b->done[i](report);
        }
        // The callbacks (and what they hold) go here, outside the lock; the buffers are kept
        // for the next batches. The connection wrote the records before the ack came.
        b->done.clear();
        reported(b, true);
    }

    // On the I/O thread: retry when the policy says so, else report the error.
    void failed(const std::shared_ptr<batch>& b, const error& e) {
        const int64_t now = es::monotonic_ns();
        auto d = es::client::decide_retry(retry, e, b->attempts, b->first_sent_ns, now);
        {
            std::lock_guard lk(mu);
            if (d.retry && !closed) {
                // The batch goes back with a copy of its records: the ones sent may still be
                // queued for writing (a request that timed out), viewed from `*b`, which the
                // connection keeps alive until they are written (request_with_tail).
                batch again = std::move(*b);
                b->records = std::exchange(again.records, std::string(again.records));
                acc.retry(std::move(again), d.at_ns);
                wake_sender.notify_one();
                return;
            }
            // Failed for good: an idempotent partition goes on under a fresh producer id, which
            // the node takes as a new producer that may start at any sequence number.
            if (b->producer_id != 0 && b->producer_id == id_for(b->topic, b->partition)) {
                fresh_ids[{b->topic, b->partition}] = random_producer_id();
            }
        }
        release(b);
        for (auto& done : b->done)
            if (done) done(e);
        reported(b, false);
    }

    // The producer id a partition's batches are first sent under (0: not idempotent).
    // REQUIRES: mu held.
    uint64_t id_for(const std::string& topic, uint32_t partition) const {
        if (producer_id == 0 || fresh_ids.empty()) return producer_id;
        auto it = fresh_ids.find({topic, partition});
        return it == fresh_ids.end() ? producer_id : it->second;
    }

    // A batch is done with (acknowledged, written out with acks=0, or failed for good): its
    // partition may send the next one, which goes from here, before this batch's reports.
    void release(const std::shared_ptr<batch>& b) {
        {
            std::lock_guard lk(mu);
            acc.finished(b->topic, b->partition);
            ++reporting;
        }
        dispatch();
    }

    // The released batch's events are all reported: its bytes leave the buffer, and flush()
    // may return. `recycle`: its buffers (callbacks gone) are kept for new batches.
    void reported(const std::shared_ptr<batch>& b, bool recycle) {
        {
            std::lock_guard lk(mu);
            --reporting;
            buffered_bytes -= b->bytes;
            if (recycle) acc.recycle(std::move(b->records), std::move(b->done));
        }
        room.notify_all();
    }

    status flush(uint32_t timeout_ms) {
        std::unique_lock lk(mu);
        ++flush_requests;
        wake_sender.notify_one();
        const bool done = room.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                                        [&] { return acc.empty() && reporting == 0; });
        --flush_requests;
        if (!done)
            return error{error_code::timed_out, "flush: events still unreported after " +
                                                    std::to_string(timeout_ms) + " ms"};
        return {};
    }

    status close(uint32_t timeout_ms) {
        // From a delivery callback (on the connection's I/O thread).
        const bool from_callback = conn->on_io_thread();
        bool already = false;
        {
            std::unique_lock lk(mu);
            // From a delivery callback that a close() runs (here, or on the I/O thread that
            // the closing thread is joining): it is closing already; waiting would deadlock.
            if (turn.in_progress() && (turn.mine() || from_callback)) return {};
            // Closed from a callback before: the rest is for a close() from another thread.
            if (from_callback && closed) return {};
            // Another thread is closing: wait until it is done, so that for every caller
            // close() returns with every event reported (and the producer may be destroyed).
            // (From a callback no close is running here, so this does not wait.)
            turn.take(lk);
            already = closed;
        }
        es::client::close_turn::holder give_back(turn, mu);
        if (from_callback) {
            close_from_callback();
            return {};
        }
        if (already) {
            // Closed from a delivery callback: what that could not do. Joining the I/O thread
            // runs the reports it left to it.
            conn->close();
            return {};
        }
        return close_once(timeout_ms);
    }

    // Under mu (`lk`, which it lets go): no more sends, the sender told to stop. Returns the
    // batches not sent, counted in `reporting` until report_closed() has reported them.
    std::vector<batch> stop(std::unique_lock<std::mutex>& lk) {
        closing = true;
        closed = true;
        std::vector<batch> left = acc.drain();
        // Still to be reported: a flush() running meanwhile waits for them too.
        reporting += static_cast<uint32_t>(left.size());
        lk.unlock();
        wake_sender.notify_one();
        room.notify_all();
        return left;
    }

    // After stop(): waits until nothing more is handed to the connection, by the sender or by a
    // send() or an ack handing batches over on another thread (none of them waits for the
    // caller), so that the connection, once closed, never fails a request inline, on a thread
    // where a callback must not run.
    void end_hand_overs() {
        if (sender.joinable()) sender.join();
        std::lock_guard order(send_mu);
    }

    status close_once(uint32_t timeout_ms) {
        status s = timeout_ms ? flush(timeout_ms) : status{};
        std::unique_lock lk(mu);
        std::vector<batch> left = stop(lk);
        end_hand_overs();
        // Fails what is in flight with closed (their handlers run on the I/O thread), before
        // the batches never sent: a partition's reports keep their order.
        conn->close();
        report_closed(left);
        return s;
    }

    // From a delivery callback with no close running: the I/O thread cannot wait for answers
    // it would have to read itself, nor join itself. It closes without waiting, as Kafka's
    // producer does from a callback: the batches in flight fail once the callback returns,
    // then the unsent ones are reported, on the I/O thread, in that order.
    void close_from_callback() {
        std::unique_lock lk(mu);
        auto left = std::make_shared<std::vector<batch>>(stop(lk));
        end_hand_overs();
        conn->close_from_handler([this, left] { report_closed(*left); });
    }

    // Reports the batches stop() took as closed. Not under mu.
    void report_closed(std::vector<batch>& left) {
        for (auto& b : left) {
            for (auto& done : b.done)
                if (done) done(error{error_code::closed, "the producer was closed"});
            {
                std::lock_guard lk(mu);
                buffered_bytes -= b.bytes;
                --reporting;
            }
            room.notify_all();
        }
    }
};

producer::producer(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

producer::~producer() {
    // Not from its own delivery callback: the I/O thread would go on in a freed producer.
    ES_ASSERT(!impl_ || !impl_->conn || !impl_->conn->on_io_thread());
    if (impl_) (void)impl_->close(0);
}

result<std::unique_ptr<producer>> producer::create(const producer_options& options) {
    // Written to be false for NaN too.
    if (!(options.linger_ms >= 0 && options.linger_ms <= 900000))
        return error{error_code::invalid_argument, "linger_ms must be between 0 and 900000, got " +
                                                       std::to_string(options.linger_ms)};
    if (options.batch_events_max == 0 || options.batch_bytes_max == 0)
        return error{error_code::invalid_argument,
                     "batch_events_max and batch_bytes_max must be > 0"};
    if (options.buffer_bytes_max < options.batch_bytes_max)
        return error{error_code::invalid_argument,
                     "buffer_bytes_max must be at least batch_bytes_max"};
    auto conn = es::client::connection::open(options.connection);
    if (!conn) return std::move(conn).err();
    auto i = std::make_unique<impl>(options);
    const uint32_t frame_max = (*conn)->max_frame_bytes();
    if (options.batch_bytes_max + publish_frame_overhead_bytes > frame_max)
        return error{error_code::invalid_argument, "batch_bytes_max " +
                                                       std::to_string(options.batch_bytes_max) +
                                                       " does not fit the server's frames of " +
                                                       std::to_string(frame_max) + " bytes"};
    i->conn = std::move(*conn);
    if (options.idempotent) i->producer_id = random_producer_id();
    impl* raw = i.get();
    i->sender = std::thread([raw] { raw->run_sender(); });
    return std::unique_ptr<producer>(new producer(std::move(i)));
}

status producer::send(const std::string& topic, event e, delivery_callback on_delivery,
                      std::optional<uint32_t> partition) {
    return impl_->send(topic, view_of(e), std::move(on_delivery), partition);
}

status producer::send_copy(const std::string& topic, const event_view& e,
                           delivery_callback on_delivery, std::optional<uint32_t> partition) {
    return impl_->send(topic, e, std::move(on_delivery), partition);
}

std::future<delivery_result> producer::send_future(const std::string& topic, event e,
                                                   std::optional<uint32_t> partition) {
    auto p = std::make_shared<std::promise<delivery_result>>();
    auto f = p->get_future();
    status s = impl_->send(
        topic, view_of(e), [p](const delivery_result& r) { p->set_value(r); }, partition);
    if (!s) p->set_value(s.err());
    return f;
}

status producer::flush(uint32_t timeout_ms) {
    return impl_->flush(timeout_ms);
}

status producer::close(uint32_t timeout_ms) {
    return impl_->close(timeout_ms);
}

uint64_t producer::producer_id() const noexcept {
    return impl_->producer_id;
}

}  // namespace eventstream
