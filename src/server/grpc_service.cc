// EventService: unary calls, the StreamEvents and Subscribe reactors.
#include "server/grpc_service.h"

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/event_id.h"
#include "metrics/prometheus.h"
#include "server/grpc_convert.h"
#include "server/grpc_metrics_text.h"
#include "server/notifying_feed.h"
#include "server/publish_call.h"

namespace es::server {
namespace {

namespace v1 = eventstream::v1;

bool deadline_passed(const grpc::CallbackServerContext* ctx) {
    return ctx->deadline() <= std::chrono::system_clock::now();
}

void fill_response(const std::string& topic, const core::publish_outcome& o,
                   v1::EventResponse* out) {
    out->set_partition(o.partition);
    out->set_duplicate(o.duplicate);
    if (o.known_offset) {
        out->set_offset(o.base_offset);
        out->set_id(core::format_event_id(topic, o.partition, o.base_offset));
    }
}

// SubmitEvent waiting for its ack: freed by the completion, which finishes the call.
struct unary_publish {
    grpc::ServerUnaryReactor* reactor;
    grpc::CallbackServerContext* ctx;
    v1::EventResponse* response;
    std::string topic;

    static void done(void* context, const core::publish_outcome& o) {
        std::unique_ptr<unary_publish> u(static_cast<unary_publish*>(context));
        if (o.code != errc::ok) {
            u->reactor->Finish(grpc_status_of(
                {o.code, "the event was refused: " + std::string(errc_name(o.code))}, u->ctx));
            return;
        }
        fill_response(u->topic, o, u->response);
        u->reactor->Finish(grpc::Status::OK);
    }
};

// StreamEvents: events in, one answer per event out, in order, each once its ack came. At
// most `window` events are read and not yet answered; past it reading stops until answers go
// out, so a client that does not read its answers stops being read.
class stream_events_reactor final
    : public grpc::ServerBidiReactor<v1::EventRequest, v1::EventResponse> {
  public:
    stream_events_reactor(grpc_event_service& service, grpc::CallbackServerContext* ctx)
        : service_(service), ctx_(ctx), state_(std::make_shared<shared>()) {
        state_->reactor = this;
        std::lock_guard lock(state_->mutex);
        StartRead(&in_);
    }

    void OnReadDone(bool ok) override {
        if (!ok) {  // the client closed its side, or the stream broke
            std::lock_guard lock(state_->mutex);
            reading_ = false;
            read_closed_ = true;
            finish_if_done();
            return;
        }
        if (in_.batch_size() > 0) {
            on_batch();
            return;
        }
        grpc_event_service::prepared_publish p;
        const auto prepared = service_.prepare(in_, p);
        std::unique_lock lock(state_->mutex);
        const uint64_t seq = next_seq_++;
        slots_.push_back({});
        slot& s = slots_.back();
        s.response.set_correlation_id(in_.correlation_id());
        if (!prepared) {
            refuse(s, prepared.err());
        } else {
            const std::string topic = in_.topic();
            core::publish_completion done;
            if (p.wait_for_ack) {
                done = {&stream_events_reactor::acked, new pending{state_, seq, topic}};
            }
            // Not under the lock: the completion takes it on the worker.
            lock.unlock();
            auto r = service_.engine().publish(p.topic, std::span(&p.event, 1), p.options, done);
            lock.lock();
            slot& again = slot_of(seq);
            if (!r) {
                if (done) delete static_cast<pending*>(done.context);
                refuse(again, r.err());
            } else if (!p.wait_for_ack) {
                again.ready = true;
                again.response.set_partition(p.options.partition.value_or(0));
            }
        }
        outstanding_events_ += 1;
        read_more();
        write_next();
    }

    // A batch request: published in one engine call, answered by one response.
    void on_batch() {
        grpc_event_service::prepared_batch b;
        const auto prepared = service_.prepare_batch(in_, b);
        std::unique_lock lock(state_->mutex);
        const uint64_t seq = next_seq_++;
        slots_.push_back({});
        slots_.back().response.set_correlation_id(in_.correlation_id());
        slots_.back().events = static_cast<uint64_t>(in_.batch_size());
        outstanding_events_ += slots_.back().events;
        if (!prepared) {
            refuse(slots_.back(), prepared.err());
        } else {
            v1::EventResponse reuse;
            if (!spare_.empty()) {
                reuse = std::move(spare_.back());
                spare_.pop_back();
            }
            lock.unlock();
            std::weak_ptr<shared> weak = state_;
            const uint64_t correlation = in_.correlation_id();
            service_.publish_batch(b, std::move(reuse),
                                   [weak, seq, correlation](v1::EventResponse r) {
                                       auto state = weak.lock();
                                       if (!state) return;
                                       std::lock_guard l(state->mutex);
                                       stream_events_reactor* self = state->reactor;
                                       if (self == nullptr) return;
                                       r.set_correlation_id(correlation);
                                       slot& s = self->slot_of(seq);
                                       s.response = std::move(r);
                                       s.ready = true;
                                       self->write_next();
                                   });
            lock.lock();
        }
        read_more();
        write_next();
    }

    // REQUIRES: state_->mutex held. Reads on while fewer than the window's events are waiting
    // for their answers.
    void read_more() {
        if (slots_.size() < service_.options().stream_window &&
            outstanding_events_ < service_.options().stream_window_events) {
            reading_ = true;
            StartRead(&in_);
        } else {
            reading_ = false;  // resumed by OnWriteDone
        }
    }

    void OnWriteDone(bool ok) override {
        std::lock_guard lock(state_->mutex);
        writing_ = false;
        if (!ok) {  // the client is gone
            finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream broke"));
            return;
        }
        outstanding_events_ -= written_events_;
        written_events_ = 0;
        if (!reading_ && !read_closed_ && !finished_ &&
            slots_.size() < service_.options().stream_window &&
            outstanding_events_ < service_.options().stream_window_events) {
            reading_ = true;
            StartRead(&in_);
        }
        write_next();
        finish_if_done();
    }

    void OnCancel() override {
        std::lock_guard lock(state_->mutex);
        finish(grpc::Status::CANCELLED);
    }

    void OnDone() override {
        {
            std::lock_guard lock(state_->mutex);
            state_->reactor = nullptr;  // completions still in flight find nobody
        }
        delete this;
    }

  private:
    struct slot {
        bool ready = false;
        uint64_t events = 1;  // events the request carried (a batch: its size)
        v1::EventResponse response;
    };
    // What completions reach: the reactor while it lives. A recursive mutex, so that a
    // reaction gRPC might run inline from a Start* call made under the lock cannot deadlock.
    struct shared {
        std::recursive_mutex mutex;
        stream_events_reactor* reactor = nullptr;
    };
    struct pending {
        std::shared_ptr<shared> state;
        uint64_t seq;
        std::string topic;
    };

    static void acked(void* context, const core::publish_outcome& o) {
        std::unique_ptr<pending> p(static_cast<pending*>(context));
        std::lock_guard lock(p->state->mutex);
        stream_events_reactor* r = p->state->reactor;
        if (r == nullptr) return;
        slot& s = r->slot_of(p->seq);
        if (o.code != errc::ok) {
            r->refuse(s, {o.code, "the event was refused: " + std::string(errc_name(o.code))});
        } else {
            fill_response(p->topic, o, &s.response);
            s.ready = true;
        }
        r->write_next();
    }

    // REQUIRES for the rest: state_->mutex held.
    slot& slot_of(uint64_t seq) { return slots_[seq - first_seq_]; }

    void refuse(slot& s, const error& e) {
        s.response.set_status_code(static_cast<int32_t>(grpc_code_of(e.code)));
        s.response.set_error(e.message);
        if (e.code == errc::queue_full) s.response.set_retry_delay_ms(grpc_retry_delay_ms);
        s.ready = true;
    }

    void write_next() {
        if (writing_ || finished_ || slots_.empty() || !slots_.front().ready) return;
        written_events_ = slots_.front().events;
        out_ = std::move(slots_.front().response);
        // The move swapped in the answer written before, whose write is done: keep it for a
        // later batch to be built in (batch answers hold a message per event).
        if (spare_.size() < spare_answers_max) spare_.push_back(std::move(slots_.front().response));
        slots_.pop_front();
        ++first_seq_;
        writing_ = true;
        // More answers ready behind this one: let gRPC gather them into one transport write.
        grpc::WriteOptions wo;
        if (!slots_.empty() && slots_.front().ready) wo.set_buffer_hint();
        StartWrite(&out_, wo);
    }

    void finish_if_done() {
        if (read_closed_ && slots_.empty() && !writing_) finish(grpc::Status::OK);
    }

    void finish(const grpc::Status& s) {
        if (finished_) return;
        finished_ = true;
        Finish(s);
    }

    grpc_event_service& service_;
    grpc::CallbackServerContext* const ctx_;
    const std::shared_ptr<shared> state_;

    // Guarded by state_->mutex.
    v1::EventRequest in_;    // the read in progress
    v1::EventResponse out_;  // the write in progress
    std::deque<slot> slots_;
    // Answers already written, kept for batches to be answered in (see write_next).
    static constexpr size_t spare_answers_max = 8;
    std::vector<v1::EventResponse> spare_;
    uint64_t first_seq_ = 0;  // sequence number of slots_.front()
    uint64_t next_seq_ = 0;
    uint64_t outstanding_events_ = 0;  // events read and not yet answered
    uint64_t written_events_ = 0;      // events answered by the write in progress
    bool reading_ = true;
    bool read_closed_ = false;
    bool writing_ = false;
    bool finished_ = false;
};

// Subscribe: a notifying feed (bounded per partition, as the request asks) drained into the
// stream one message at a time; a worker that delivers wakes the reactor when it is idle.
class subscribe_reactor final : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
  public:
    subscribe_reactor(grpc_event_service& service, grpc::CallbackServerContext* ctx,
                      const v1::SubscribeRequest& request)
        : service_(service), state_(std::make_shared<shared>()) {
        state_->reactor = this;
        auto s = start(request);
        std::lock_guard lock(state_->mutex);
        if (!s) {
            finish(grpc_status_of(s.err(), ctx));
            return;
        }
        pump();
    }

    void OnWriteDone(bool ok) override {
        std::lock_guard lock(state_->mutex);
        writing_ = false;
        if (!ok) {
            finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream broke"));
            return;
        }
        if (!out_.empty()) out_.pop_front();
        pump();
    }

    void OnCancel() override {
        std::lock_guard lock(state_->mutex);
        finish(grpc::Status::CANCELLED);
    }

    void OnDone() override {
        {
            std::lock_guard lock(state_->mutex);
            state_->reactor = nullptr;
        }
        // Off the lock: unsubscribe waits for the workers, whose wake-ups take the lock.
        if (subscription_id_ != 0) (void)service_.engine().unsubscribe(subscription_id_);
        delete this;
    }

  private:
    struct shared {
        std::recursive_mutex mutex;
        subscribe_reactor* reactor = nullptr;
    };

    status start(const v1::SubscribeRequest& r) {
        auto t = service_.engine().find_topic(r.topic());
        if (!t) return std::move(t).err();
        topic_ = *t;
        core::start_position start = core::start_position::latest();
        switch (r.start().position_case()) {
            case v1::StartPosition::kEarliest:
                start = core::start_position::earliest();
                break;
            case v1::StartPosition::kOffset:
                start = core::start_position::at_offset(r.start().offset());
                break;
            case v1::StartPosition::kTimestampNs:
                start = core::start_position::at_time(r.start().timestamp_ns());
                break;
            case v1::StartPosition::kCommittedElseEarliest:
                start = core::start_position::committed(r.start().committed_else_earliest()
                                                            ? core::start_position::kind::earliest
                                                            : core::start_position::kind::latest);
                break;
            default:
                break;
        }
        core::feed_options fo;
        fo.max_buffered_events = r.max_buffered_events() != 0 ? r.max_buffered_events() : 4096;
        fo.max_buffered_bytes = r.max_buffered_bytes() != 0 ? r.max_buffered_bytes() : 4 << 20;
        std::weak_ptr<shared> weak = state_;
        feed_ = std::make_shared<notifying_feed>(static_cast<uint32_t>(topic_->partitions.size()),
                                                 fo, [weak] {
                                                     // On a worker: events arrived while the
                                                     // reactor was idle.
                                                     if (auto s = weak.lock()) {
                                                         std::lock_guard lock(s->mutex);
                                                         if (s->reactor != nullptr)
                                                             s->reactor->pump();
                                                     }
                                                 });
        std::vector<uint32_t> parts(r.partitions().begin(), r.partitions().end());
        auto id = service_.engine().subscribe(topic_, parts, start, feed_, r.group());
        if (!id) return std::move(id).err();
        subscription_id_ = *id;
        return {};
    }

    // REQUIRES: state_->mutex held. Writes the next message, polling the feed when none is
    // queued; with nothing to send it arms the feed and waits for a wake-up.
    void pump() {
        if (writing_ || finished_) return;
        if (out_.empty()) fill();
        if (out_.empty()) {
            feed_->arm();
            fill();  // a delivery between the poll and the arm would otherwise be missed
            if (out_.empty()) return;
            feed_->disarm();
        }
        writing_ = true;
        StartWrite(&out_.front());
    }

    void fill() {
        const std::string& topic = topic_->config.name;
        feed_->feed().poll(
            [&](const core::event_view& v, uint32_t partition) {
                v1::SubscribeResponse m;
                fill_event(topic, partition, v, m.mutable_event());
                out_.push_back(std::move(m));
            },
            [&](uint32_t partition, uint64_t first, uint64_t last) {
                v1::SubscribeResponse m;
                m.mutable_gap()->set_partition(partition);
                m.mutable_gap()->set_first(first);
                m.mutable_gap()->set_last(last);
                out_.push_back(std::move(m));
            },
            poll_batch);
    }

    void finish(const grpc::Status& s) {
        if (finished_) return;
        finished_ = true;
        Finish(s);
    }

    static constexpr size_t poll_batch = 64;

    grpc_event_service& service_;
    const std::shared_ptr<shared> state_;
    core::topic_ptr topic_;
    std::shared_ptr<notifying_feed> feed_;
    uint64_t subscription_id_ = 0;

    // Guarded by state_->mutex.
    std::deque<v1::SubscribeResponse> out_;  // front() is being written when writing_
    bool writing_ = false;
    bool finished_ = false;
};

}  // namespace

grpc_event_service::grpc_event_service(core::engine& engine, metrics::registry& registry,
                                       const grpc_endpoint_options& options)
    : engine_(engine), registry_(registry), options_(options) {}

result<void> grpc_event_service::prepare(const EventRequest& r, prepared_publish& out) {
    auto t = engine_.find_topic(r.topic());
    if (!t) return std::move(t).err();
    out.topic = std::move(*t);
    out.headers.clear();
    for (const auto& [name, value] : r.headers()) out.headers.push_back({name, value});
    out.event.has_key = r.has_key();
    out.event.key = r.has_key() ? std::string_view(r.key()) : std::string_view();
    out.event.payload = r.payload();
    out.event.headers = out.headers;
    out.event.timestamp_ns = r.timestamp_ns();
    if (r.timestamp_ns() < 0) {
        return make_error(errc::invalid_argument, "timestamp_ns must not be negative");
    }
    out.options = {};
    if (r.has_partition()) out.options.partition = r.partition();
    out.options.producer_id = r.producer_id();
    out.options.first_sequence = r.sequence();
    switch (r.acks()) {
        case v1::ACKS_NONE:
            out.wait_for_ack = false;
            break;
        case v1::ACKS_UNSPECIFIED:
        case v1::ACKS_LEADER:
        case v1::ACKS_ALL:
            out.wait_for_ack = true;
            break;
        default:
            return make_error(errc::invalid_argument,
                              "acks: unknown value " + std::to_string(r.acks()));
    }
    return {};
}

result<void> grpc_event_service::prepare_batch(const EventRequest& r, prepared_batch& out) {
    if (r.has_key() || !r.payload().empty() || r.headers_size() > 0 || r.timestamp_ns() != 0 ||
        r.has_partition() || r.producer_id() != 0) {
        return make_error(errc::invalid_argument,
                          "a batch request carries its events in `batch` only: key, payload, "
                          "headers, timestamp_ns, partition and producer_id must be unset");
    }
    const std::string& topic = r.topic().empty() ? r.batch(0).topic() : r.topic();
    v1::Acks acks = r.acks();
    out.answer = std::make_shared<prepared_batch::answer_info>();
    const auto n = static_cast<size_t>(r.batch_size());
    out.events.resize(n);
    out.headers.resize(n);
    out.answer->keys.reserve(n);
    out.answer->has_key.reserve(n);
    out.answer->correlation_ids.reserve(n);
    // Names the event in an error message (only built for one).
    const auto at = [](int i) { return "batch[" + std::to_string(i) + "]"; };
    for (int i = 0; i < r.batch_size(); ++i) {
        const EventRequest& e = r.batch(i);
        if (!e.topic().empty() && e.topic() != topic) {
            return make_error(
                errc::invalid_argument,
                at(i) + ".topic: every event of a batch goes to one topic ('" + topic + "')");
        }
        if (e.acks() != v1::ACKS_UNSPECIFIED && e.acks() != acks) {
            if (acks != v1::ACKS_UNSPECIFIED) {
                return make_error(errc::invalid_argument,
                                  at(i) + ".acks: every event of a batch takes the same acks");
            }
            acks = e.acks();
        }
        if (e.has_partition() || e.producer_id() != 0 || e.batch_size() > 0) {
            return make_error(errc::invalid_argument,
                              at(i) +
                                  ": an event in a batch cannot name a partition or a "
                                  "producer, or hold a batch of its own");
        }
        if (e.timestamp_ns() < 0) {
            return make_error(errc::invalid_argument, at(i) + ".timestamp_ns must not be negative");
        }
        auto& hs = out.headers[static_cast<size_t>(i)];
        for (const auto& [name, value] : e.headers()) hs.push_back({name, value});
        core::event_in& ev = out.events[static_cast<size_t>(i)];
        ev.has_key = e.has_key();
        ev.key = e.has_key() ? std::string_view(e.key()) : std::string_view();
        ev.payload = e.payload();
        ev.headers = hs;
        ev.timestamp_ns = e.timestamp_ns();
        out.answer->keys.push_back(e.has_key() ? e.key() : std::string());
        out.answer->has_key.push_back(e.has_key());
        out.answer->correlation_ids.push_back(e.correlation_id());
    }
    if (acks != v1::ACKS_UNSPECIFIED && acks != v1::ACKS_NONE && acks != v1::ACKS_LEADER &&
        acks != v1::ACKS_ALL) {
        return make_error(errc::invalid_argument, "acks: unknown value " + std::to_string(acks));
    }
    out.wait_for_ack = acks != v1::ACKS_NONE;
    auto t = engine_.find_topic(topic);
    if (!t) return std::move(t).err();
    out.topic = std::move(*t);
    return {};
}

void grpc_event_service::publish_batch(prepared_batch& b, EventResponse reuse,
                                       std::function<void(EventResponse)> done) {
    const std::string topic = b.topic->config.name;
    const auto partitions = static_cast<uint32_t>(b.topic->partitions.size());
    auto answer = b.answer;
    auto reused = std::make_shared<EventResponse>(std::move(reuse));
    publish_async(
        engine_, b.topic, b.events, b.wait_for_ack ? acks_mode::all : acks_mode::none,
        [done = std::move(done), answer, topic, partitions, reused](result<publish_report> r) {
            EventResponse resp(std::move(*reused));
            resp.Clear();  // keeps the per-event messages allocated for add_batch()
            if (!r) {
                resp.set_status_code(static_cast<int32_t>(grpc_code_of(r.err().code)));
                resp.set_error(r.err().message);
                if (r.err().code == errc::queue_full) resp.set_retry_delay_ms(grpc_retry_delay_ms);
                done(std::move(resp));
                return;
            }
            for (const auto& o : r->outcomes) {
                if (o.code != errc::ok) {
                    resp.set_status_code(static_cast<int32_t>(grpc_code_of(o.code)));
                    resp.set_error("a batch of " + std::to_string(o.count) +
                                   " events for partition " + std::to_string(o.partition) +
                                   " was refused: " + errc_name(o.code));
                    done(std::move(resp));
                    return;
                }
            }
            if (r->summary.events_refused > 0) {
                resp.set_status_code(static_cast<int32_t>(grpc::StatusCode::RESOURCE_EXHAUSTED));
                resp.set_error(std::to_string(r->summary.events_refused) +
                               " events were refused (a partition's queue is full); retry them");
                resp.set_retry_delay_ms(grpc_retry_delay_ms);
            }
            // Place each event: the placement reads only has_key and key.
            std::vector<core::event_in> keys(answer->keys.size());
            for (size_t i = 0; i < keys.size(); ++i) {
                keys[i].has_key = answer->has_key[i];
                keys[i].key = answer->keys[i];
            }
            const auto places = place_events(keys, partitions, r->outcomes);
            for (size_t i = 0; i < places.size(); ++i) {
                EventResponse* e = resp.add_batch();
                e->set_correlation_id(answer->correlation_ids[i]);
                if (!places[i].appended) continue;
                e->set_partition(places[i].partition);
                e->set_offset(places[i].offset);
                e->set_id(core::format_event_id(topic, places[i].partition, places[i].offset));
            }
            done(std::move(resp));
        });
}

grpc::ServerUnaryReactor* grpc_event_service::SubmitEvent(grpc::CallbackServerContext* ctx,
                                                          const EventRequest* request,
                                                          EventResponse* response) {
    auto* reactor = ctx->DefaultReactor();
    if (deadline_passed(ctx)) {
        reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                     "the deadline passed before the event was published"));
        return reactor;
    }
    if (request->batch_size() > 0) {
        prepared_batch b;
        if (auto s = prepare_batch(*request, b); !s) {
            reactor->Finish(grpc_status_of(s.err(), ctx));
            return reactor;
        }
        publish_batch(b, {}, [reactor, response](EventResponse r) {
            // A refused batch is the call's status; an accepted one its response.
            if (r.status_code() != 0 && r.batch_size() == 0) {
                reactor->Finish(
                    grpc::Status(static_cast<grpc::StatusCode>(r.status_code()), r.error()));
                return;
            }
            *response = std::move(r);
            reactor->Finish(grpc::Status::OK);
        });
        return reactor;
    }
    prepared_publish p;
    if (auto s = prepare(*request, p); !s) {
        reactor->Finish(grpc_status_of(s.err(), ctx));
        return reactor;
    }
    core::publish_completion done;
    if (p.wait_for_ack) {
        done = {&unary_publish::done, new unary_publish{reactor, ctx, response, request->topic()}};
    }
    auto r = engine_.publish(p.topic, std::span(&p.event, 1), p.options, done);
    if (!r) {
        if (done) delete static_cast<unary_publish*>(done.context);
        reactor->Finish(grpc_status_of(r.err(), ctx));
        return reactor;
    }
    if (!p.wait_for_ack) reactor->Finish(grpc::Status::OK);
    return reactor;
}

grpc::ServerBidiReactor<grpc_event_service::EventRequest, grpc_event_service::EventResponse>*
grpc_event_service::StreamEvents(grpc::CallbackServerContext* ctx) {
    return new stream_events_reactor(*this, ctx);
}

grpc::ServerUnaryReactor* grpc_event_service::QueryMetrics(grpc::CallbackServerContext* ctx,
                                                           const v1::MetricsRequest* request,
                                                           v1::MetricsResponse* response) {
    std::string text;
    metrics::write_prometheus(registry_, text);
    std::vector<std::string> prefixes(request->name_prefixes().begin(),
                                      request->name_prefixes().end());
    *response->mutable_prometheus_text() = filter_metrics_text(text, prefixes);
    for (const metric_sample& s : parse_metrics_text(response->prometheus_text())) {
        v1::MetricSample* m = response->add_samples();
        m->set_name(s.name);
        for (const auto& [k, v] : s.labels) (*m->mutable_labels())[k] = v;
        m->set_value(s.value);
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* grpc_event_service::Subscribe(
    grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* request) {
    return new subscribe_reactor(*this, ctx, *request);
}

grpc::ServerUnaryReactor* grpc_event_service::CommitOffset(grpc::CallbackServerContext* ctx,
                                                           const v1::CommitOffsetRequest* request,
                                                           v1::CommitOffsetResponse*) {
    auto* reactor = ctx->DefaultReactor();
    auto t = engine_.find_topic(request->topic());
    if (!t) {
        reactor->Finish(grpc_status_of(t.err(), ctx));
        return reactor;
    }
    // Finished when stored (in a cluster: committed by the partition's replicas), without
    // holding a gRPC thread meanwhile.
    engine_.commit_offset_async(
        *t, request->group(), request->partition(), request->offset(), [reactor, ctx](status s) {
            reactor->Finish(s ? grpc::Status::OK : grpc_status_of(s.err(), ctx));
        });
    return reactor;
}

grpc::ServerUnaryReactor* grpc_event_service::CreateTopic(grpc::CallbackServerContext* ctx,
                                                          const v1::CreateTopicRequest* request,
                                                          v1::TopicInfo* response) {
    auto* reactor = ctx->DefaultReactor();
    auto info = engine_.create_topic(topic_config_of(request->config()));
    if (!info) {
        reactor->Finish(grpc_status_of(info.err(), ctx));
        return reactor;
    }
    fill_topic_info(*info, core::partition_leaders(*info, engine_.layout(), options_.node_id),
                    response);
    reactor->Finish(grpc::Status::OK);
    return reactor;
}

grpc::ServerUnaryReactor* grpc_event_service::DeleteTopic(grpc::CallbackServerContext* ctx,
                                                          const v1::DeleteTopicRequest* request,
                                                          v1::DeleteTopicResponse*) {
    auto* reactor = ctx->DefaultReactor();
    auto s = engine_.delete_topic(request->name());
    reactor->Finish(s ? grpc::Status::OK : grpc_status_of(s.err(), ctx));
    return reactor;
}

grpc::ServerUnaryReactor* grpc_event_service::ListTopics(grpc::CallbackServerContext* ctx,
                                                         const v1::ListTopicsRequest*,
                                                         v1::ListTopicsResponse* response) {
    const auto layout = engine_.layout();
    for (const core::topic_info& t : engine_.list_topics()) {
        fill_topic_info(t, core::partition_leaders(t, layout, options_.node_id),
                        response->add_topics());
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
}

grpc::ServerUnaryReactor* grpc_event_service::DescribeTopic(grpc::CallbackServerContext* ctx,
                                                            const v1::DescribeTopicRequest* request,
                                                            v1::TopicInfo* response) {
    auto* reactor = ctx->DefaultReactor();
    auto info = engine_.describe_topic(request->name());
    if (!info) {
        reactor->Finish(grpc_status_of(info.err(), ctx));
        return reactor;
    }
    fill_topic_info(*info, core::partition_leaders(*info, engine_.layout(), options_.node_id),
                    response);
    reactor->Finish(grpc::Status::OK);
    return reactor;
}

}  // namespace es::server
