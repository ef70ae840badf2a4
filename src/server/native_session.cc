// native_session: the connection's I/O, answer order, back-pressure, time-outs and closes.
// The requests themselves are in native_session_requests.cc.
#include "server/native_session.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>

#include "common/socket_buffers.h"
#include "server/native_errors.h"

namespace es::server {

native_session::native_session(asio::ip::tcp::socket socket,
                               std::shared_ptr<const native_context> context, uint64_t session_id)
    : socket_(std::move(socket)),
      inbox_(inbox_of(socket_.get_executor())),
      tick_(socket_.get_executor()),
      held_timer_(socket_.get_executor()),
      context_(std::move(context)),
      session_id_(session_id),
      reader_(context_->options.max_frame_bytes) {}

native_session::~native_session() = default;

void native_session::start() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ec;
        self->socket_.set_option(asio::ip::tcp::no_delay(true), ec);
        if (auto s = es::set_send_buffer_bytes(self->socket_.native_handle(),
                                               self->context_->options.send_buffer_bytes);
            !s) {
            spdlog::warn("native: session {}: {}", self->session_id_, s.err().message);
        }
        self->connected_at_ = clock::now();
        self->last_frame_at_ = self->connected_at_;
        self->arm_tick();
        self->maybe_read();
    });
}

void native_session::refuse(const error& e) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), e] {
        self->connected_at_ = clock::now();
        self->last_frame_at_ = self->connected_at_;
        self->arm_tick();
        self->close_with_error(0, e);
    });
}

void native_session::shut_down(std::function<void()> done) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
        if (self->state_ == state::open) {
            self->close_with_error(
                0, make_error(errc::shutting_down, "the node is stopping; reconnect later"));
        }
        // close_with_error ended the subscriptions; so has any earlier close.
        self->end_subscriptions();
        if (done) done();
    });
}

// ---- reading

bool native_session::can_take_requests() const noexcept {
    return state_ == state::open && !admin_in_flight_ && !held_ &&
           slots_.size() < k_native_in_flight_max && outgoing_bytes() < k_native_outgoing_bytes_max;
}

void native_session::maybe_read() {
    if (reading_ || state_ == state::closed) return;
    // While open, reading stops when too many answers are pending or too much waits to be
    // sent: the client feels TCP back-pressure. Once closing, what arrives is read and dropped.
    if (state_ == state::open && !can_take_requests()) return;
    reading_ = true;
    // Received straight into the frame reader: no copy from a read buffer.
    char* room = reader_.prepare(k_native_read_bytes);
    socket_.async_read_some(asio::buffer(room, k_native_read_bytes),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->on_read(ec, n); });
}

void native_session::on_read(const boost::system::error_code& ec, size_t n) {
    reading_ = false;
    if (state_ == state::closed) return;
    if (ec) {
        // The peer closed or reset, or our socket was closed. Mid-frame or not, the connection
        // is over; what the engine accepted stays accepted.
        if (state_ != state::flushing) close_now();
        return;
    }
    if (state_ != state::open) {
        maybe_read();  // flushing or lingering: drain and drop (not committed to the reader)
        return;
    }
    reader_.commit(n);
    process_frames();
    maybe_read();
}

void native_session::process_frames() {
    if (processing_) return;
    processing_ = true;
    while (can_take_requests()) {
        auto next = reader_.next();
        if (!next) {
            protocol_error(0, next.err());
            break;
        }
        if (!*next) break;
        last_frame_at_ = clock::now();
        // The bytes left over belong to the next frame, begun no earlier than this one ended.
        frame_started_at_.reset();
        context_->metrics.frames_received->inc();
        handle(**next);
    }
    if (state_ == state::open) {
        // Slowloris: a frame begun must be finished within the frame time-out, counted from the
        // end of the frame before it (a busy client's reads often end mid-frame, so the buffer
        // may never be empty between frames). Bytes held back because of our own back-pressure
        // do not count.
        if (reader_.buffered_bytes() > 0 && can_take_requests()) {
            if (!frame_started_at_) frame_started_at_ = clock::now();
        } else {
            frame_started_at_.reset();
        }
    }
    processing_ = false;
    flush_replies();
    pump_subscriptions();
    write_next();
}

void native_session::handle(const protocol::frame& f) {
    if (!hello_done_) {
        handle_hello(f);
        return;
    }
    handle_request(f);
}

void native_session::handle_hello(const protocol::frame& f) {
    if (f.header.type != protocol::message_type::hello) {
        protocol_error(
            f.header.request_id,
            make_error(errc::invalid_argument, std::string("the first frame must be HELLO, got ") +
                                                   protocol::message_type_name(f.header.type)));
        return;
    }
    auto hello = protocol::decode_hello(f.body);
    if (!hello) {
        protocol_error(f.header.request_id, hello.err());
        return;
    }
    constexpr uint16_t server_min = 1;
    constexpr uint16_t server_max = protocol::protocol_version;
    const uint16_t version = std::min(hello->max_version, server_max);
    if (version < hello->min_version || version < server_min) {
        protocol_error(
            f.header.request_id,
            make_error(errc::not_supported, "no common protocol version: the client speaks " +
                                                std::to_string(hello->min_version) + ".." +
                                                std::to_string(hello->max_version) +
                                                ", the server " + std::to_string(server_min) +
                                                ".." + std::to_string(server_max)));
        return;
    }
    hello_done_ = true;
    protocol::hello_ok ok;
    ok.version = version;
    ok.capabilities = hello->capabilities & protocol::known_capabilities;
    capabilities_ = ok.capabilities;
    ok.max_frame_bytes = context_->options.max_frame_bytes;
    ok.node_id = context_->options.node_id;
    ok.server_version = ES_VERSION;
    std::string bytes;
    protocol::encode(bytes, f.header.request_id, ok);
    reply(std::move(bytes));
}

// ---- answers in order

uint64_t native_session::open_slot() {
    slots_.emplace_back();
    return first_seq_ + slots_.size() - 1;
}

void native_session::fill(uint64_t seq, std::string bytes, uint64_t announces) {
    if (seq < first_seq_ || seq - first_seq_ >= slots_.size()) return;  // dropped by a close
    reply_slot& s = slots_[seq - first_seq_];
    s.ready = true;
    s.bytes = std::move(bytes);
    s.announces = announces;
}

void native_session::reply_error(uint64_t request_id, const error& e) {
    context_->metrics.error(native_error_kind::refused).inc();
    std::string bytes;
    encode_error(bytes, request_id, e);
    reply(std::move(bytes));
}

void native_session::flush_replies() {
    while (!slots_.empty() && slots_.front().ready) {
        reply_slot& s = slots_.front();
        if (!s.bytes.empty()) enqueue(std::move(s.bytes));
        if (s.announces != 0) {
            if (auto it = subscriptions_.find(s.announces); it != subscriptions_.end()) {
                it->second.announced = true;
                if (it->second.ended) {
                    send_ended(it->first, it->second);
                    subscriptions_.erase(it);
                }
            }
        }
        slots_.pop_front();
        ++first_seq_;
    }
}

void native_session::pump_subscriptions() {
    if (state_ != state::open) return;
    for (auto& [id, s] : subscriptions_) {
        if (!s.announced || s.ended) continue;
        if (outgoing_bytes() >= k_native_outgoing_bytes_max) break;
        const size_t before = queued_.size();
        size_t moved = 0;
        const uint64_t events =
            s.sink->take(queued_, k_native_outgoing_bytes_max - outgoing_bytes(), moved);
        queued_bytes_ += moved;
        context_->metrics.events_delivered->inc(events);
        context_->metrics.frames_sent->inc(queued_.size() - before);
    }
}

void native_session::progress() {
    flush_replies();
    pump_subscriptions();
    write_next();
    if (state_ == state::open) {
        process_frames();
        maybe_read();
    }
}

// ---- writing

void native_session::enqueue(std::string bytes) {
    context_->metrics.frames_sent->inc();
    queued_bytes_ += bytes.size();
    // Small answers share a buffer, so that a burst of them is one piece of the gather write.
    constexpr size_t coalesce_bytes = 16 * 1024;
    if (!queued_.empty() && queued_.back().size() + bytes.size() <= coalesce_bytes) {
        queued_.back() += bytes;
        return;
    }
    queued_.push_back(std::move(bytes));
}

void native_session::write_next() {
    if (writing_ || state_ == state::closed || state_ == state::lingering) return;
    if (queued_.empty()) {
        if (state_ == state::flushing) finish_flush();
        return;
    }
    // Everything queued goes out in one gather write.
    in_write_.clear();
    while (!queued_.empty()) {
        in_write_.push_back(std::move(queued_.front()));
        queued_.pop_front();
    }
    writing_bytes_ = queued_bytes_;
    queued_bytes_ = 0;
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(in_write_.size());
    for (const std::string& b : in_write_) buffers.push_back(asio::buffer(b));
    writing_ = true;
    write_progress_at_ = clock::now();
    // The write time-out counts from the last bytes the socket took, not from the start: a
    // gather write of a full queue (up to 8 MiB) to a slow but steady reader takes long.
    asio::async_write(
        socket_, buffers,
        [this, done = size_t{0}](const boost::system::error_code& ec, size_t n) mutable {
            if (n > done) {
                done = n;
                write_progress_at_ = clock::now();
            }
            return asio::transfer_all()(ec, n);
        },
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
            self->on_write(ec, n);
        });
}

void native_session::on_write(const boost::system::error_code& ec, size_t) {
    writing_ = false;
    writing_bytes_ = 0;
    in_write_.clear();
    if (state_ == state::closed) return;
    if (ec) {
        close_now();
        return;
    }
    progress();
}

// ---- closing

void native_session::protocol_error(uint64_t request_id, const error& e) {
    if (state_ != state::open) return;
    context_->metrics.error(native_error_kind::protocol).inc();
    spdlog::debug("native: session {}: protocol error: {}", session_id_, e.message);
    close_with_error(request_id, e);
}

void native_session::close_with_error(uint64_t request_id, const error& e) {
    if (state_ != state::open) return;
    // What is answered already goes out, then the ERROR; answers still pending are dropped.
    flush_replies();
    slots_.clear();
    pump_subscriptions();
    state_ = state::flushing;
    linger_until_ = clock::now() + std::chrono::milliseconds(k_native_linger_ms);
    end_subscriptions();
    std::string bytes;
    encode_error(bytes, request_id, e);
    enqueue(std::move(bytes));
    maybe_read();  // keep draining, so that unread input does not turn the close into a reset
    write_next();
}

void native_session::finish_flush() {
    // A clean close: no more from us, then read and drop until the client closes too (or the
    // linger time passes), so that the ERROR is not lost to a reset.
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    state_ = state::lingering;
    linger_until_ = clock::now() + std::chrono::milliseconds(k_native_linger_ms);
    maybe_read();
}

void native_session::close_now() {
    if (state_ == state::closed) return;
    state_ = state::closed;
    end_subscriptions();
    slots_.clear();
    queued_.clear();
    queued_bytes_ = 0;
    boost::system::error_code ignored;
    tick_.cancel();
    held_timer_.cancel();
    held_.reset();
    socket_.close(ignored);
    if (context_->on_closed) context_->on_closed(session_id_);
}

void native_session::end_subscriptions() {
    for (auto& [id, s] : subscriptions_) {
        if (!s.ended) (void)context_->engine.unsubscribe(s.engine_id);
    }
    subscriptions_.clear();
}

// ---- time-outs

void native_session::arm_tick() {
    const auto& o = context_->options;
    const uint32_t shortest = std::min(
        {o.idle_timeout_ms, o.handshake_timeout_ms, o.frame_timeout_ms, k_native_linger_ms});
    const uint32_t period_ms = std::clamp<uint32_t>(shortest / 4, 20, 1000);
    tick_.expires_after(std::chrono::milliseconds(period_ms));
    tick_.async_wait(
        [self = shared_from_this()](const boost::system::error_code& ec) { self->on_tick(ec); });
}

void native_session::on_tick(const boost::system::error_code& ec) {
    if (ec || state_ == state::closed) return;
    const auto now = clock::now();
    const auto& o = context_->options;
    auto passed = [now](clock::time_point since, uint32_t ms) {
        return now - since >= std::chrono::milliseconds(ms);
    };
    if (state_ == state::lingering) {
        if (now >= linger_until_) {
            close_now();
            return;
        }
    } else if (state_ == state::flushing) {
        // A client that does not read its ERROR is not waited for long.
        if (now >= linger_until_) {
            close_now();
            return;
        }
    } else if (!hello_done_ && passed(connected_at_, o.handshake_timeout_ms)) {
        context_->metrics.error(native_error_kind::handshake_timeout).inc();
        spdlog::debug("native: session {}: no HELLO in time; closing", session_id_);
        close_now();
        return;
    } else if (frame_started_at_ && passed(*frame_started_at_, o.frame_timeout_ms)) {
        context_->metrics.error(native_error_kind::frame_timeout).inc();
        spdlog::debug("native: session {}: a frame was not finished in time; closing", session_id_);
        close_now();
        return;
    } else if (writing_ && passed(write_progress_at_, o.write_timeout_ms)) {
        context_->metrics.error(native_error_kind::write_timeout).inc();
        spdlog::debug(
            "native: session {}: a write made no progress in time (the client does not "
            "read); closing",
            session_id_);
        close_now();
        return;
    } else if (slots_.empty() && can_take_requests() && passed(last_frame_at_, o.idle_timeout_ms)) {
        context_->metrics.error(native_error_kind::idle_timeout).inc();
        spdlog::debug("native: session {}: idle; closing", session_id_);
        close_now();
        return;
    }
    if (state_ == state::open) {
        end_deleted_subscriptions();
        // Waiting answers or back-pressure hold the idle clock.
        if (!slots_.empty() || !can_take_requests()) last_frame_at_ = now;
        // A second without a frame: the storage kept for frames lent to the engine goes.
        if (passed(last_frame_at_, 1000)) reader_.release_spare();
        progress();
    }
    arm_tick();
}

}  // namespace es::server
