// Beast sessions for the HTTP listener: read a request (bounded), route it, write the response,
// repeat while the client keeps the connection alive.
#include "server/http_listener.h"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <array>
#include <chrono>
#include <exception>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/registry.h"
#include "server/http_response_head.h"
#include "server/io_inbox.h"

namespace es::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

// A connection's stream with its context's concrete executor type (see connection_socket).
using http_stream = beast::basic_stream<asio::ip::tcp, asio::io_context::executor_type>;

std::string_view to_std(beast::string_view s) {
    return {s.data(), s.size()};
}

// The session whose request this thread is routing now, so that an answer given during the
// handler call is taken at once rather than posted.
thread_local const void* routing_session = nullptr;

}  // namespace

struct http_listener::shared_state {
    std::shared_ptr<const http_router> router;
    http_listener_options options;
    std::shared_ptr<metrics::counter> requests;   // may be null
    std::shared_ptr<metrics::gauge> connections;  // may be null
    std::shared_ptr<metrics::histogram> latency;  // may be null
    std::string upgrade_path;                     // constant after start()
    http_upgrade_handler upgrade;                 // constant after start()

    std::mutex mutex;
    std::map<uint64_t, std::weak_ptr<session>> sessions;  // guarded by mutex
    uint64_t next_session_id = 1;                         // guarded by mutex
    bool closed = false;                                  // guarded by mutex
};

class http_listener::session : public std::enable_shared_from_this<session> {
  public:
    session(connection_socket socket, std::shared_ptr<shared_state> state, uint64_t id)
        : stream_(std::move(socket)),
          executor_(stream_.get_executor()),
          inbox_(inbox_of(executor_)),
          state_(std::move(state)),
          id_(id) {
        if (state_->connections) state_->connections->add(1);
    }

    ~session() {
        if (state_->connections) state_->connections->sub(1);
        std::lock_guard lock(state_->mutex);
        state_->sessions.erase(id_);
    }

    void start() {
        asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
            // An answer goes out whole at once, without waiting on the ACK of the one before
            // (Nagle), as nginx's tcp_nodelay does for keep-alive connections.
            beast::error_code ignored;
            self->stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
            self->read_next();
        });
    }

    // On the session's io thread.
    void close() {
        if (upgraded_) return;  // the stream belongs to the WebSocket session now
        closing_ = true;
        beast::error_code ignored;
        stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    // Any thread; valid after an upgrade moved the stream away.
    const asio::io_context::executor_type& executor() const { return executor_; }

  private:
    void read_next() {
        if (closing_) return;
        // A fresh parser per request: limits apply to each request, not to the connection.
        parser_.emplace();
        parser_->body_limit(state_->options.body_bytes_max);
        parser_->header_limit(state_->options.header_bytes_max);
        read_started_ = std::chrono::steady_clock::now();
        stream_.expires_after(std::chrono::milliseconds(state_->options.io_timeout_ms));
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (closing_) return;
        if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
            // The client closed its side (partial_message: in the middle of a request).
            stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
            return;
        }
        if (ec == beast::error::timeout) {
            spdlog::debug("http: connection {} timed out waiting for a request", id_);
            return;  // the stream is already closed
        }
        if (ec == http::error::body_limit) {
            respond(json_error(413, "too_large",
                               "request body is larger than " +
                                   std::to_string(state_->options.body_bytes_max) + " bytes"),
                    false);
            return;
        }
        if (ec == http::error::header_limit) {
            respond(json_error(431, "too_large",
                               "request header is larger than " +
                                   std::to_string(state_->options.header_bytes_max) + " bytes"),
                    false);
            return;
        }
        if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
            respond(json_error(400, "bad_request", "malformed HTTP request: " + ec.message()),
                    false);
            return;
        }
        if (ec) {
            // Reset by the peer, aborted, ...: nothing to answer.
            spdlog::debug("http: connection {} closed: {}", id_, ec.message());
            return;
        }

        auto& req = parser_->get();
        if (state_->upgrade && beast::websocket::is_upgrade(req)) {
            const auto target = to_std(req.target());
            if (target.substr(0, target.find('?')) == state_->upgrade_path) {
                // The WebSocket session owns the connection from here; this session ends.
                // A client must wait for the 101 before it sends frames, so buffer_ holds
                // nothing of the WebSocket's.
                if (state_->requests) state_->requests->inc();
                closing_ = true;
                upgraded_ = true;
                // The WebSocket session takes the socket (still on this io thread) with a
                // type-erased executor, off the hot path.
                state_->upgrade(beast::tcp_stream(stream_.release_socket()), parser_->release());
                return;
            }
        }
        // request_ keeps its vectors' room from one request to the next.
        http_request& request = request_;
        request.method = to_std(req.method_string());
        request.set_target(to_std(req.target()));
        request.body = req.body();
        request.headers.clear();
        for (const auto& field : req) {
            request.headers.emplace_back(to_std(field.name_string()), to_std(field.value()));
        }

        request_started_ = std::chrono::steady_clock::now();
        const bool keep_alive = req.keep_alive();
        routing_session = this;
        answer_.reset();
        auto self = shared_from_this();
        try {
            // route() reads the request and sets its params only (it takes it by rvalue so as
            // not to copy it); request_ stays usable afterwards.
            state_->router->route(std::move(request), [self, keep_alive](http_response r) {
                // A synchronous answer is taken at once; a later one (from a worker thread
                // or a timer) is handed to this connection's thread, with the others that
                // come meanwhile.
                if (routing_session == self.get()) {
                    self->answer_ = std::move(r);
                    return;
                }
                self->inbox_.post([self, keep_alive, r = std::move(r)]() mutable {
                    self->respond(std::move(r), keep_alive);
                });
            });
        } catch (const std::exception& e) {
            // A handler bug must not take the node down; the client learns it was ours.
            spdlog::error("http: {} {} failed: {}", request.method, request.path, e.what());
            answer_ = json_error(500, "internal", "internal error");
        }
        routing_session = nullptr;
        if (answer_) {
            spdlog::debug("http: {} {} -> {}", request.method, request.path, answer_->status);
            auto r = std::move(*answer_);
            answer_.reset();
            respond(std::move(r), keep_alive);
        }
    }

    void respond(http_response r, bool keep_alive) {
        if (closing_) return;
        if (state_->requests) state_->requests->inc();
        const auto now = std::chrono::steady_clock::now();
        if (state_->latency && request_started_) {
            state_->latency->record(static_cast<uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - *request_started_)
                    .count()));
            request_started_.reset();
        }
        head_.clear();
        append_response_head(head_, r, keep_alive);
        body_ = std::move(r.body);
        // The read's time limit also covers this write (Beast applies it to every operation
        // until it is set again), which saves a timer update per request. An answer that took
        // long (a long poll) gets a fresh limit for its write.
        if (now - read_started_ > std::chrono::seconds(1)) {
            stream_.expires_after(std::chrono::milliseconds(state_->options.io_timeout_ms));
        }
        const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_)};
        asio::async_write(
            stream_, buffers,
            beast::bind_front_handler(&session::on_write, shared_from_this(), keep_alive));
    }

    void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
        if (closing_ || ec) return;
        if (!keep_alive) {
            stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
            return;
        }
        read_next();
    }

    http_stream stream_;
    const asio::io_context::executor_type executor_;  // the connection's io thread
    io_inbox& inbox_;  // of the connection's io_context: answers from other threads
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http_request request_;  // views into parser_ and buffer_, valid while routing
    // The response being written: status line and fields, then the body.
    std::string head_;
    std::string body_;
    const std::shared_ptr<shared_state> state_;
    const uint64_t id_;
    bool closing_ = false;
    bool upgraded_ = false;  // on the io thread
    // A handler's answer given during route() (on the io thread) is kept here.
    std::optional<http_response> answer_;
    std::optional<std::chrono::steady_clock::time_point> request_started_;
    std::chrono::steady_clock::time_point read_started_;
};

http_listener::http_listener(io_pool& pool, asio::ip::tcp::acceptor acceptor,
                             std::shared_ptr<const http_router> router,
                             http_listener_options options, metrics::registry* metrics)
    : state_(std::make_shared<shared_state>()),
      loop_(pool, std::move(acceptor), "http", [state = state_](connection_socket socket) {
          std::shared_ptr<session> s;
          {
              std::lock_guard lock(state->mutex);
              if (state->closed) return;
              if (state->sessions.size() >= state->options.connections_max) {
                  spdlog::warn("http: {} connections open, the most allowed; closing a new one",
                               state->sessions.size());
                  boost::system::error_code ignored;
                  socket.close(ignored);
                  return;
              }
              const uint64_t id = state->next_session_id++;
              s = std::make_shared<session>(std::move(socket), state, id);
              state->sessions.emplace(id, s);
          }
          s->start();
      }) {
    state_->router = std::move(router);
    state_->options = options;
    if (metrics != nullptr) {
        auto requests = metrics->add_counter("eventstream_http_requests_total",
                                             "HTTP requests answered, errors included");
        auto connections =
            metrics->add_gauge("eventstream_http_connections", "HTTP connections open now");
        auto latency = metrics->add_histogram(
            "eventstream_http_request_duration_seconds",
            "Time from a whole HTTP request read to its response handed to the socket", {},
            metrics::latency_ns_options);
        if (requests && connections && latency) {
            state_->requests = *requests;
            state_->connections = *connections;
            state_->latency = *latency;
        } else {
            spdlog::warn("http: metrics not registered: {}", !requests ? requests.err().message
                                                             : !connections
                                                                 ? connections.err().message
                                                                 : latency.err().message);
        }
    }
}

http_listener::~http_listener() = default;

void http_listener::set_upgrade_handler(std::string path, http_upgrade_handler handler) {
    state_->upgrade_path = std::move(path);
    state_->upgrade = std::move(handler);
}

void http_listener::start() {
    loop_.start();
}

void http_listener::close() {
    loop_.close();
    std::vector<std::shared_ptr<session>> open;
    {
        std::lock_guard lock(state_->mutex);
        state_->closed = true;
        for (auto& [id, weak] : state_->sessions) {
            if (auto s = weak.lock()) open.push_back(std::move(s));
        }
    }
    std::latch closed(static_cast<std::ptrdiff_t>(open.size()));
    for (auto& s : open) {
        asio::post(s->executor(), [s, &closed] {
            s->close();
            closed.count_down();
        });
    }
    closed.wait();
}

}  // namespace es::server
