// The connection's I/O thread: Boost.Asio with one io_context per connection. Everything in
// `impl` below the "I/O thread only" line is touched by that thread alone; other threads hand
// work over with asio::post.
#include "client/connection.h"

#include <boost/asio.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client/wire.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/socket_buffers.h"
#include "protocol/codec.h"

namespace es::client {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto tick_interval = std::chrono::milliseconds(50);
constexpr size_t read_chunk_bytes = 64 * 1024;

error make(error_code c, std::string message) {
    return error{c, std::move(message)};
}

}  // namespace

struct connection::impl : std::enable_shared_from_this<connection::impl> {
    // Constant after construction.
    eventstream::connection_options options;
    std::string host;
    uint16_t port = 0;

    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
        asio::make_work_guard(io)};
    std::thread thread;
    // thread's id, set when it starts (before open() returns) and cleared once it is joined
    // (a thread made later may get the same id): compared by any thread while a closing one
    // may be joining `thread`.
    std::atomic<std::thread::id> thread_id;

    std::atomic<uint64_t> next_id{1};
    std::atomic<bool> connected{false};
    std::atomic<bool> closed{false};
    // Callers between their check of `closed` and the end of their post to `io`. close() waits
    // for none to be left before it posts do_close, so every request posted is run (and
    // answered) before the I/O loop ends: one posted after it would never run, and its handler
    // (holding this impl) would keep the impl, and its caller's wait, alive for ever.
    std::atomic<uint32_t> posting{0};
    // close() runs once; a concurrent caller waits until the first has stopped the thread.
    std::once_flag close_once;
    std::atomic<bool> close_posted{false};  // do_close is posted once
    std::atomic<uint32_t> max_frame_bytes{protocol::default_max_frame_bytes};
    std::function<void()> on_reconnect;

    // ---- I/O thread only.
    enum class state { connecting, handshaking, ready, backoff, closed };
    state st = state::connecting;
    tcp::socket socket{io};
    asio::steady_timer connect_timer{io};
    asio::steady_timer reconnect_timer{io};
    asio::steady_timer tick_timer{io};
    uint64_t generation = 0;  // bumped on every loss, so stale completions are ignored
    bool ever_connected = false;
    std::optional<std::promise<status>> first_connect;
    uint32_t backoff_ms = 0;
    uint64_t hello_id = 0;
    int64_t last_input_ns = 0;
    uint64_t ping_id = 0;  // outstanding PING, 0 if none

    struct entry {
        reply_handler on_reply;
        push_handler on_push;  // set for streams
        lost_handler on_lost;
        int64_t deadline_ns = 0;
        bool answered = false;
    };
    std::unordered_map<uint64_t, entry> pending;

    // Frames waiting for the current write to finish: bytes copied into `out`, and large frame
    // tails written from where they are (see write()). A piece is `owned` more bytes of `out`
    // (after the previous piece's), then its view; bytes of `out` after the last piece follow.
    struct out_piece {
        size_t owned = 0;
        std::string_view view;
        std::shared_ptr<const void> keep;  // holds `view`'s bytes until they are written
    };
    struct out_queue {
        std::string bytes;
        std::vector<out_piece> pieces;
        size_t owned_in_pieces = 0;  // the pieces' `owned` summed
        std::vector<std::function<void(status)>> done;

        bool empty() const noexcept { return bytes.empty() && pieces.empty(); }
        void clear() {
            bytes.clear();
            pieces.clear();
            owned_in_pieces = 0;
            done.clear();
        }
        void swap(out_queue& o) noexcept {
            bytes.swap(o.bytes);
            pieces.swap(o.pieces);
            std::swap(owned_in_pieces, o.owned_in_pieces);
            done.swap(o.done);
        }
    };
    out_queue out;
    out_queue writing;
    std::vector<asio::const_buffer> writing_buffers;
    bool write_active = false;

    protocol::frame_reader reader{protocol::max_frame_bytes_limit};

    // ---- Connecting.
    void start_connect() {
        st = state::connecting;
        const uint64_t gen = generation;
        boost::system::error_code ec;
        tcp::resolver resolver(io);
        auto endpoints = resolver.resolve(host, std::to_string(port), ec);
        if (ec) {
            on_loss(
                make(error_code::connection_lost, "cannot resolve " + host + ": " + ec.message()));
            return;
        }
        connect_timer.expires_after(std::chrono::milliseconds(options.connect_timeout_ms));
        connect_timer.async_wait([self = shared_from_this(), gen](boost::system::error_code e) {
            if (e || gen != self->generation) return;
            if (self->st == state::connecting || self->st == state::handshaking)
                self->on_loss(make(
                    error_code::timed_out,
                    "connect to " + self->host + ":" + std::to_string(self->port) + " timed out"));
        });
        asio::async_connect(
            socket, endpoints,
            [self = shared_from_this(), gen](boost::system::error_code e, const tcp::endpoint&) {
                if (gen != self->generation || self->st == state::closed) return;
                if (e) {
                    self->on_loss(make(error_code::connection_lost,
                                       "cannot connect to " + self->host + ":" +
                                           std::to_string(self->port) + ": " + e.message()));
                    return;
                }
                self->on_connected();
            });
    }

    void on_connected() {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        // Best effort, as no_delay: a socket that refuses keeps the kernel's autotuning.
        (void)set_send_buffer_bytes(socket.native_handle(), options.send_buffer_bytes);
        reader = protocol::frame_reader(protocol::max_frame_bytes_limit);
        st = state::handshaking;
        last_input_ns = monotonic_ns();
        start_read(generation);
        hello_id = next_id.fetch_add(1, std::memory_order_relaxed);
        protocol::hello h;
        h.client_name = options.client_name;
        h.capabilities = protocol::capability_duplicate_offset_unknown;
        std::string frame;
        protocol::encode(frame, hello_id, h);
        write(std::move(frame), {});
    }

    void on_hello_answer(const owned_frame& f) {
        connect_timer.cancel();
        if (f.header.type == protocol::message_type::error) {
            auto e = protocol::decode_error(f.body);
            on_loss(make(error_code::protocol_error,
                         "the server refused HELLO: " + (e ? e->message : std::string("?"))));
            return;
        }
        if (f.header.type != protocol::message_type::hello_ok) {
            on_loss(make(error_code::protocol_error,
                         "HELLO answered by a frame of type " +
                             std::string(protocol::message_type_name(f.header.type))));
            return;
        }
        auto ok = protocol::decode_hello_ok(f.body);
        if (!ok) {
            on_loss(make(error_code::protocol_error, "bad HELLO_OK: " + ok.err().message));
            return;
        }
        max_frame_bytes.store(ok->max_frame_bytes, std::memory_order_relaxed);
        st = state::ready;
        connected.store(true, std::memory_order_release);
        backoff_ms = 0;
        if (!ever_connected) {
            ever_connected = true;
            if (first_connect) {
                first_connect->set_value(status{});
                first_connect.reset();
            }
        } else if (on_reconnect) {
            on_reconnect();
        }
    }

    // ---- Losing the connection.
    // Fails everything pending with `e`, closes the socket and, unless closing or the first
    // connect failed (which is reported to open() instead), schedules a reconnect.
    void on_loss(const error& e) {
        if (st == state::closed) return;
        ++generation;
        connected.store(false, std::memory_order_release);
        boost::system::error_code ignored;
        socket.close(ignored);
        connect_timer.cancel();
        fail_all(e);
        ping_id = 0;
        if (!ever_connected) {
            if (first_connect) {
                first_connect->set_value(e);
                first_connect.reset();
            }
            st = state::backoff;  // the owner closes us
            return;
        }
        st = state::backoff;
        backoff_ms = backoff_ms == 0 ? options.reconnect_backoff_initial_ms
                                     : std::min(backoff_ms * 2, options.reconnect_backoff_max_ms);
        reconnect_timer.expires_after(std::chrono::milliseconds(backoff_ms));
        reconnect_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec || self->st != state::backoff) return;
            self->socket = tcp::socket(self->io);
            self->start_connect();
        });
    }

    void fail_all(const error& e) {
        auto entries = std::move(pending);
        pending.clear();
        auto done = std::move(out.done);
        out.clear();
        // A write in progress completes with an error and reports to writing.done then.
        for (auto& fn : done)
            if (fn) fn(e);
        for (auto& [id, en] : entries) {
            if (!en.answered) {
                en.on_reply(e);
            } else if (en.on_lost) {
                en.on_lost(e);
            }
        }
    }

    // ---- Reading.
    void start_read(uint64_t gen) {
        // Received straight into the frame reader: no copy from a read buffer.
        char* room = reader.prepare(read_chunk_bytes);
        socket.async_read_some(
            asio::buffer(room, read_chunk_bytes),
            [self = shared_from_this(), gen](boost::system::error_code e, size_t n) {
                if (gen != self->generation || self->st == state::closed) return;
                if (e) {
                    self->on_loss(make(error_code::connection_lost,
                                       e == asio::error::eof ? "the server closed the connection"
                                                             : "read: " + e.message()));
                    return;
                }
                self->last_input_ns = monotonic_ns();
                self->reader.commit(n);
                for (;;) {
                    auto f = self->reader.next();
                    if (!f) {
                        self->on_loss(make(error_code::protocol_error,
                                           "bad frame from the server: " + f.err().message));
                        return;
                    }
                    if (!*f) break;
                    owned_frame of{(*f)->header, std::string((*f)->body)};
                    self->on_frame(std::move(of));
                    if (gen != self->generation || self->st == state::closed) return;
                }
                self->start_read(gen);
            });
    }

    void on_frame(owned_frame f) {
        const uint64_t id = f.header.request_id;
        if (st == state::handshaking) {
            if (id == hello_id || id == 0) on_hello_answer(f);
            return;
        }
        if (id == 0 && f.header.type == protocol::message_type::error) {
            auto e = protocol::decode_error(f.body);
            on_loss(make(error_code::connection_lost,
                         "the server ended the connection: " +
                             (e ? e->message : std::string("(unreadable ERROR frame)"))));
            return;
        }
        auto it = pending.find(id);
        if (it == pending.end()) return;  // a late answer to a request that timed out
        entry& en = it->second;
        if (!en.answered) {
            en.answered = true;
            const bool keep = en.on_push && f.header.type != protocol::message_type::error;
            if (!keep) {
                auto fn = std::move(en.on_reply);
                pending.erase(it);
                fn(std::move(f));
            } else {
                en.on_reply(std::move(f));
            }
            return;
        }
        if (f.header.type == protocol::message_type::subscription_ended) {
            auto push = std::move(en.on_push);
            pending.erase(it);
            push(std::move(f));
            return;
        }
        // A push handler must not change `pending` (every connection call it may make posts to
        // this thread), so `en` stays valid during the call.
        en.on_push(std::move(f));
    }

    // ---- Writing.
    // Tails this long or longer are written from their own bytes (one more entry in the
    // gathered write) rather than copied into `out`.
    static constexpr size_t gather_tail_bytes = 4096;

    // `tail`: more bytes of the same frame, after it, viewed; `keep` holds them until they are
    // written (see request_with_tail).
    void write(std::string frame, std::function<void(status)> done, std::string_view tail = {},
               std::shared_ptr<const void> keep = {}) {
        if (out.empty() && tail.empty()) {
            out.bytes.swap(frame);  // a lone frame is written from its own string, without a copy
        } else if (tail.size() < gather_tail_bytes) {
            out.bytes.append(frame);
            out.bytes.append(tail);
        } else {
            out.bytes.append(frame);
            const size_t owned = out.bytes.size() - out.owned_in_pieces;
            out.pieces.push_back({owned, tail, std::move(keep)});
            out.owned_in_pieces += owned;
        }
        out.done.push_back(std::move(done));
        if (!write_active) flush_writes();
    }

    void flush_writes() {
        // One write at a time: `writing` and `writing_buffers` belong to the one in progress.
        if (write_active || out.empty() || st == state::closed) return;
        write_active = true;
        writing.swap(out);
        out.clear();
        writing_buffers.clear();
        size_t at = 0;
        for (const auto& p : writing.pieces) {
            if (p.owned) writing_buffers.emplace_back(writing.bytes.data() + at, p.owned);
            at += p.owned;
            writing_buffers.emplace_back(p.view.data(), p.view.size());
        }
        if (at < writing.bytes.size())
            writing_buffers.emplace_back(writing.bytes.data() + at, writing.bytes.size() - at);
        const uint64_t gen = generation;
        asio::async_write(socket, writing_buffers,
                          [self = shared_from_this(), gen](boost::system::error_code e, size_t) {
                              self->write_active = false;
                              auto done = std::move(self->writing.done);
                              self->writing.clear();
                              status s;
                              if (e) s = make(error_code::connection_lost, "write: " + e.message());
                              for (auto& fn : done)
                                  if (fn) fn(s);
                              if (self->st == state::closed) {
                                  self->run_after_close();
                                  return;
                              }
                              if (gen != self->generation) {
                                  // Lost meanwhile: what is queued belongs to a new connection.
                                  if (self->st == state::ready || self->st == state::handshaking)
                                      self->flush_writes();
                                  return;
                              }
                              if (e) {
                                  self->on_loss(s.err());
                                  return;
                              }
                              self->flush_writes();
                          });
    }

    // ---- Requests (I/O thread).
    void do_request(uint64_t id, std::string frame, reply_handler on_reply, push_handler on_push,
                    lost_handler on_lost, std::string_view tail = {},
                    std::shared_ptr<const void> keep = {}) {
        if (st != state::ready) {
            on_reply(st == state::closed ? make(error_code::closed, "the client is closed")
                                         : make(error_code::connection_lost,
                                                "not connected to " + host + ":" +
                                                    std::to_string(port) + " (reconnecting)"));
            return;
        }
        entry en;
        en.on_reply = std::move(on_reply);
        en.on_push = std::move(on_push);
        en.on_lost = std::move(on_lost);
        en.deadline_ns = monotonic_ns() + int64_t(options.request_timeout_ms) * 1'000'000;
        pending.emplace(id, std::move(en));
        write(std::move(frame), {}, tail, std::move(keep));
    }

    void do_send(std::string frame, std::function<void(status)> on_written) {
        if (st != state::ready) {
            if (on_written)
                on_written(
                    make(st == state::closed ? error_code::closed : error_code::connection_lost,
                         "not connected"));
            return;
        }
        write(std::move(frame), std::move(on_written));
    }

    // ---- Time-outs and idle pings.
    void start_tick() {
        tick_timer.expires_after(tick_interval);
        tick_timer.async_wait([self = shared_from_this()](boost::system::error_code e) {
            if (e || self->st == state::closed) return;
            self->on_tick();
            self->start_tick();
        });
    }

    void on_tick() {
        if (st != state::ready) return;
        const int64_t now = monotonic_ns();
        std::vector<reply_handler> expired;
        bool ping_expired = false;
        for (auto it = pending.begin(); it != pending.end();) {
            if (!it->second.answered && it->second.deadline_ns <= now) {
                if (it->first == ping_id) ping_expired = true;
                expired.push_back(std::move(it->second.on_reply));
                it = pending.erase(it);
            } else {
                ++it;
            }
        }
        for (auto& fn : expired)
            fn(make(error_code::timed_out,
                    "no answer within " + std::to_string(options.request_timeout_ms) + " ms"));
        if (ping_expired) {
            on_loss(make(error_code::connection_lost, "the server did not answer a PING"));
            return;
        }
        if (options.idle_ping_ms != 0 && ping_id == 0 &&
            now - last_input_ns >= int64_t(options.idle_ping_ms) * 1'000'000) {
            ping_id = next_id.fetch_add(1, std::memory_order_relaxed);
            std::string frame;
            protocol::encode_ping(frame, ping_id, protocol::ping{"idle"});
            const uint64_t my_ping = ping_id;
            do_request(ping_id, std::move(frame),
                       [self = shared_from_this(), my_ping](result<owned_frame>) {
                           if (self->ping_id == my_ping) self->ping_id = 0;
                       },
                       {}, {});
        }
    }

    // Sets `closed`, waits for the callers posting to finish, and posts do_close (once), then
    // `then` on the I/O thread. Any thread.
    void stop_posting_and_close(std::function<void()> then = {});

    void do_close() {
        if (st == state::closed) return;
        st = state::closed;
        ++generation;
        connected.store(false, std::memory_order_release);
        boost::system::error_code ignored;
        socket.close(ignored);
        connect_timer.cancel();
        reconnect_timer.cancel();
        tick_timer.cancel();
        fail_all(make(error_code::closed, "the client is closed"));
        if (first_connect) {
            first_connect->set_value(make(error_code::closed, "closed while connecting"));
            first_connect.reset();
        }
        work.reset();
        if (!write_active) run_after_close();
    }

    // Runs `f` once the connection is closed and has reported everything it will: the pending
    // requests (do_close) and the frames of a write in progress (its completion).
    void when_closed(std::function<void()> f) {
        after_close.push_back(std::move(f));
        if (st == state::closed && !write_active) run_after_close();
    }
    void run_after_close() {
        auto fns = std::move(after_close);
        after_close.clear();
        for (auto& f : fns) f();
    }
    std::vector<std::function<void()>> after_close;  // I/O thread only
};

connection::connection(std::shared_ptr<impl> i) : impl_(std::move(i)) {}

namespace {

// A caller about to post to the I/O thread, from its check of `closed` to the end of its
// post. With close()'s side (`closed` set, then waiting for `posting` to drain) a Dekker
// handshake, hence seq_cst: either the caller sees `closed`, or close() sees it posting and
// waits, so that its handler runs before do_close.
class posting_guard {
  public:
    explicit posting_guard(connection::impl& i) : i_(i) {
        i_.posting.fetch_add(1, std::memory_order_seq_cst);
        closed_ = i_.closed.load(std::memory_order_seq_cst);
    }
    ~posting_guard() { i_.posting.fetch_sub(1, std::memory_order_release); }
    posting_guard(const posting_guard&) = delete;
    posting_guard& operator=(const posting_guard&) = delete;
    bool closed() const noexcept { return closed_; }

  private:
    connection::impl& i_;
    bool closed_;
};

// Posts make() to the I/O thread unless the connection is closed; false (and make() not
// called, so what its handler would take is left to the caller) when it is.
template <class MakeHandler>
bool post_unless_closed(connection::impl& i, MakeHandler&& make) {
    posting_guard posting(i);
    if (posting.closed()) return false;
    asio::post(i.io, make());
    return true;
}

}  // namespace

connection::~connection() {
    if (impl_ && on_io_thread()) {
        // Destroyed by one of its handlers: the thread cannot join itself. It ends after
        // do_close, holding the impl until then.
        impl_->stop_posting_and_close();
        impl_->thread.detach();
        return;
    }
    close();
}

result<std::unique_ptr<connection>> connection::open(const eventstream::connection_options& o,
                                                     std::function<void()> on_reconnect) {
    auto addr = parse_server_address(o.server);
    if (!addr) return std::move(addr).err();
    auto i = std::make_shared<impl>();
    i->options = o;
    i->host = addr->first;
    i->port = addr->second;
    i->on_reconnect = std::move(on_reconnect);
    if (i->options.reconnect_backoff_initial_ms == 0) i->options.reconnect_backoff_initial_ms = 1;
    std::promise<status> first;
    auto done = first.get_future();
    i->first_connect.emplace(std::move(first));
    std::unique_ptr<connection> c(new connection(i));
    asio::post(i->io, [i] {
        i->start_tick();
        i->start_connect();
    });
    i->thread = std::thread([i] { i->io.run(); });
    i->thread_id.store(i->thread.get_id(), std::memory_order_release);
    status s = done.get();  // the connect timer bounds the wait
    if (!s) {
        c->close();
        return std::move(s).err();
    }
    return c;
}

uint64_t connection::next_request_id() noexcept {
    return impl_->next_id.fetch_add(1, std::memory_order_relaxed);
}

void connection::request(uint64_t request_id, std::string frame, reply_handler on_reply) {
    stream(request_id, std::move(frame), std::move(on_reply), {}, {});
}

void connection::stream(uint64_t request_id, std::string frame, reply_handler on_reply,
                        push_handler on_push, lost_handler on_lost) {
    const bool posted = post_unless_closed(*impl_, [&] {
        return [i = impl_, request_id, frame = std::move(frame), on_reply = std::move(on_reply),
                on_push = std::move(on_push), on_lost = std::move(on_lost)]() mutable {
            i->do_request(request_id, std::move(frame), std::move(on_reply), std::move(on_push),
                          std::move(on_lost));
        };
    });
    // Outside the guard: the handler may close.
    if (!posted) on_reply(error{error_code::closed, "the client is closed"});
}

void connection::request_with_tail(uint64_t request_id, std::string head, std::string_view tail,
                                   std::shared_ptr<const void> keep, reply_handler on_reply) {
    const bool posted = post_unless_closed(*impl_, [&] {
        return [i = impl_, request_id, head = std::move(head), tail, keep = std::move(keep),
                on_reply = std::move(on_reply)]() mutable {
            i->do_request(request_id, std::move(head), std::move(on_reply), {}, {}, tail,
                          std::move(keep));
        };
    });
    if (!posted) on_reply(error{error_code::closed, "the client is closed"});
}

void connection::end_stream(uint64_t request_id) {
    // Once closed, do_close ends every stream.
    (void)post_unless_closed(
        *impl_, [&] { return [i = impl_, request_id] { i->pending.erase(request_id); }; });
}

void connection::send(std::string frame, std::function<void(status)> on_written) {
    const bool posted = post_unless_closed(*impl_, [&] {
        return [i = impl_, frame = std::move(frame), on_written = std::move(on_written)]() mutable {
            i->do_send(std::move(frame), std::move(on_written));
        };
    });
    if (!posted && on_written) on_written(error{error_code::closed, "the client is closed"});
}

result<owned_frame> connection::call(uint64_t request_id, std::string frame) {
    ES_ASSERT(!on_io_thread());
    auto p = std::make_shared<std::promise<result<owned_frame>>>();
    auto f = p->get_future();
    request(request_id, std::move(frame),
            [p](result<owned_frame> r) { p->set_value(std::move(r)); });
    return f.get();
}

uint32_t connection::max_frame_bytes() const noexcept {
    return impl_->max_frame_bytes.load(std::memory_order_relaxed);
}

bool connection::connected() const noexcept {
    return impl_->connected.load(std::memory_order_acquire);
}

bool connection::on_io_thread() const noexcept {
    return std::this_thread::get_id() == impl_->thread_id.load(std::memory_order_acquire);
}

void connection::impl::stop_posting_and_close(std::function<void()> then) {
    closed.store(true, std::memory_order_seq_cst);
    // The callers that did not see `closed` are posting; theirs run before do_close. (seq_cst,
    // as the guard's: the two sides of the handshake must not both miss each other.)
    while (posting.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    // Once: a second do_close posted after the loop has ended would never run, and its
    // handler, holding the impl, would keep the impl alive for ever. A `then` posted later
    // than that comes from a handler (close_from_handler), so the loop is still running.
    if (close_posted.exchange(true, std::memory_order_acq_rel)) {
        if (then) {
            asio::post(io, [i = shared_from_this(), then = std::move(then)]() mutable {
                i->when_closed(std::move(then));
            });
        }
        return;
    }
    asio::post(io, [i = shared_from_this(), then = std::move(then)]() mutable {
        i->do_close();
        if (then) i->when_closed(std::move(then));
    });
}

void connection::close_from_handler(std::function<void()> then) {
    ES_ASSERT(on_io_thread());
    impl_->stop_posting_and_close(std::move(then));
}

void connection::close() {
    if (!impl_) return;
    if (on_io_thread()) {
        // From a handler: the I/O thread cannot join itself. It closes once this handler
        // returns; a later close() from another thread (the destructor's) joins it.
        impl_->stop_posting_and_close();
        return;
    }
    // A second caller returning while the first still joins the thread could destroy the
    // connection under it (or take `closed` for the pending requests' answers having come).
    std::call_once(impl_->close_once, [this] {
        impl_->stop_posting_and_close();
        if (impl_->thread.joinable()) impl_->thread.join();
        // A thread made later may get the same id: it is not this connection's I/O thread.
        impl_->thread_id.store(std::thread::id{}, std::memory_order_release);
    });
}

status answer_error(const owned_frame& f, protocol::message_type expected) {
    if (f.header.type == expected) return {};
    if (f.header.type == protocol::message_type::error) {
        auto e = protocol::decode_error(f.body);
        if (!e) return error{error_code::protocol_error, "bad ERROR frame: " + e.err().message};
        return error_from_wire(e->code, e->message);
    }
    return error{error_code::protocol_error, std::string("expected ") +
                                                 protocol::message_type_name(expected) + ", got " +
                                                 protocol::message_type_name(f.header.type)};
}

result<std::pair<std::string, uint16_t>> parse_server_address(const std::string& address) {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
        return error{error_code::invalid_argument,
                     "server address must be host:port, got '" + address + "'"};
    std::string host = address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    const char* b = address.data() + colon + 1;
    const char* e = address.data() + address.size();
    auto [p, ec] = std::from_chars(b, e, port);
    if (ec != std::errc{} || p != e || port == 0 || port > 65535)
        return error{
            error_code::invalid_argument,
            "server address must be host:port with a port 1..65535, got '" + address + "'"};
    return std::pair<std::string, uint16_t>{host, static_cast<uint16_t>(port)};
}

}  // namespace es::client
