// The HTTP/1.1 listener (Boost.Beast, asynchronous): keep-alive connections with limits on
// header and body size and a read timeout, requests dispatched through an http_router (whose
// handlers may answer later), and WebSocket upgrades handed to an upgrade handler. The REST and
// WebSocket endpoints live elsewhere; this file stays about connections.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/accept_loop.h"
#include "server/http_router.h"

namespace es::metrics {
class registry;
}  // namespace es::metrics

namespace es::server {

struct http_listener_options {
    // Largest request body accepted, in bytes; a larger one gets 413 and the connection closes.
    uint64_t body_bytes_max = 1 << 20;
    // Largest request line plus header fields, in bytes; more gets 431.
    uint32_t header_bytes_max = 16 << 10;
    // A request must arrive, and a response be taken, within this time, in milliseconds. It is
    // also how long an idle keep-alive connection stays open.
    uint32_t io_timeout_ms = 30'000;
    // Most open connections; a connection accepted beyond this is closed at once.
    uint32_t connections_max = 10'000;
};

// Takes over a connection whose request asked for a WebSocket upgrade (RFC 6455) on the path
// it was registered for: the handler owns the stream from then on, and answers the upgrade
// request itself (accepting or refusing it). Called on the connection's io thread.
using http_upgrade_handler =
    std::function<void(boost::beast::tcp_stream stream,
                       boost::beast::http::request<boost::beast::http::string_body> request)>;

class http_listener {
  public:
    // `metrics` may be null; else the listener registers eventstream_http_* series in it.
    http_listener(io_pool& pool, asio::ip::tcp::acceptor acceptor,
                  std::shared_ptr<const http_router> router, http_listener_options options,
                  metrics::registry* metrics);
    ~http_listener();
    http_listener(const http_listener&) = delete;
    http_listener& operator=(const http_listener&) = delete;

    // Upgrade requests for `path` (exact, query ignored) go to `handler`; other requests for it
    // are routed as usual. REQUIRES: before start().
    void set_upgrade_handler(std::string path, http_upgrade_handler handler);

    // Starts accepting. Any thread.
    void start();
    // Stops accepting and closes every open connection (a request being answered is cut
    // short); returns once all of them are closed.
    // REQUIRES: the io_pool is running (not called on one of its threads).
    void close();

    const asio::ip::tcp::endpoint& local_endpoint() const noexcept {
        return loop_.local_endpoint();
    }

  private:
    struct shared_state;
    class session;

    // Shared with the sessions, which may outlive the listener while the io_pool is torn
    // down.
    std::shared_ptr<shared_state> state_;
    accept_loop loop_;
};

}  // namespace es::server
