// Beast sessions for the HTTP listener: read a request (bounded), route it, write the response,
// repeat while the client keeps the connection alive.
#include "server/http_listener.h"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

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

namespace es::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

std::string_view to_std(beast::string_view s) {
    return {s.data(), s.size()};
}

}  // namespace

struct http_listener::shared_state {
    std::shared_ptr<const http_router> router;
    http_listener_options options;
    std::shared_ptr<metrics::counter> requests;   // may be null
    std::shared_ptr<metrics::gauge> connections;  // may be null

    std::mutex mutex;
    std::map<uint64_t, std::weak_ptr<session>> sessions;  // guarded by mutex
    uint64_t next_session_id = 1;                         // guarded by mutex
    bool closed = false;                                  // guarded by mutex
};

class http_listener::session : public std::enable_shared_from_this<session> {
  public:
    session(asio::ip::tcp::socket socket, std::shared_ptr<shared_state> state, uint64_t id)
        : stream_(std::move(socket)), state_(std::move(state)), id_(id) {
        if (state_->connections) state_->connections->add(1);
    }

    ~session() {
        if (state_->connections) state_->connections->sub(1);
        std::lock_guard lock(state_->mutex);
        state_->sessions.erase(id_);
    }

    void start() {
        asio::dispatch(stream_.get_executor(),
                       beast::bind_front_handler(&session::read_next, shared_from_this()));
    }

    // On the session's strand.
    void close() {
        closing_ = true;
        beast::error_code ignored;
        stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    auto executor() { return stream_.get_executor(); }

  private:
    void read_next() {
        if (closing_) return;
        // A fresh parser per request: limits apply to each request, not to the connection.
        parser_.emplace();
        parser_->body_limit(state_->options.body_bytes_max);
        parser_->header_limit(state_->options.header_bytes_max);
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

        const auto& req = parser_->get();
        http_request request;
        request.method = to_std(req.method_string());
        request.set_target(to_std(req.target()));
        request.body = req.body();
        for (const auto& field : req) {
            request.headers.emplace_back(to_std(field.name_string()), to_std(field.value()));
        }

        http_response response;
        try {
            response = state_->router->route(request);
        } catch (const std::exception& e) {
            // A handler bug must not take the node down; the client learns it was ours.
            spdlog::error("http: {} {} failed: {}", request.method, request.path, e.what());
            response = json_error(500, "internal", "internal error");
        }
        spdlog::debug("http: {} {} -> {}", request.method, request.path, response.status);
        respond(std::move(response), req.keep_alive());
    }

    void respond(http_response r, bool keep_alive) {
        if (state_->requests) state_->requests->inc();
        response_ = {};
        response_.version(11);
        response_.result(r.status);
        response_.set(http::field::server, "eventstream");
        response_.set(http::field::content_type, r.content_type);
        for (const auto& [name, value] : r.headers) response_.set(name, value);
        response_.body() = std::move(r.body);
        response_.keep_alive(keep_alive);
        response_.prepare_payload();
        stream_.expires_after(std::chrono::milliseconds(state_->options.io_timeout_ms));
        http::async_write(
            stream_, response_,
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

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> response_;
    const std::shared_ptr<shared_state> state_;
    const uint64_t id_;
    bool closing_ = false;
};

http_listener::http_listener(asio::io_context& io, asio::ip::tcp::acceptor acceptor,
                             std::shared_ptr<const http_router> router,
                             http_listener_options options, metrics::registry* metrics)
    : state_(std::make_shared<shared_state>()),
      loop_(io, std::move(acceptor), "http", [state = state_](asio::ip::tcp::socket socket) {
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
        if (requests && connections) {
            state_->requests = *requests;
            state_->connections = *connections;
        } else {
            spdlog::warn("http: metrics not registered: {}",
                         requests ? connections.err().message : requests.err().message);
        }
    }
}

http_listener::~http_listener() = default;

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
