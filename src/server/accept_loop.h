// Listening TCP sockets for every listener of the node: opening one (errors name the config
// field) and a loop that accepts connections and hands each to its listener.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "server/io_pool.h"

namespace es::server {

namespace asio = boost::asio;

// "127.0.0.1:8080", or "[::1]:8080" for IPv6.
std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint);

// Opens, binds and listens on bind:port (port 0 lets the OS pick). `bind` is an IP address or a
// host name, which is resolved and its first address used. The acceptor runs on a strand of
// `io`, so that closing it from another thread is safe (accept_loop::close).
// Errors (io_error / config_error): "<field>: cannot listen on 127.0.0.1:7070: Address already
// in use", "bind: cannot resolve 'x': ...".
result<asio::ip::tcp::acceptor> open_listener(asio::io_context& io, const std::string& bind,
                                              uint16_t port, std::string_view field);

// A connection's socket, bound to its io thread's context. No strand: each of the node's
// io_contexts is run by exactly one thread (io_pool), so a connection's handlers never run
// concurrently, and a strand would only cost its lock and a reference count on every operation.
// The executor's concrete type (not any_io_executor) spares every socket and timer operation a
// type-erased executor copy.
using connection_socket =
    asio::ip::tcp::socket::rebind_executor<asio::io_context::executor_type>::other;

// Accepts connections until closed. Each accepted socket is bound to the pool's next context,
// so that connections spread over the io threads; a listener posts to a connection from any
// thread through that context.
class accept_loop {
  public:
    // Called on the acceptor's strand for every accepted connection.
    using on_accept = std::function<void(connection_socket)>;

    // `name` is used in log lines ("http", "native").
    // The acceptor runs on its own executor (open_listener's strand); `pool` must outlive
    // the loop.
    accept_loop(io_pool& pool, asio::ip::tcp::acceptor acceptor, std::string name,
                on_accept handler);
    accept_loop(const accept_loop&) = delete;
    accept_loop& operator=(const accept_loop&) = delete;

    // Starts accepting. Any thread.
    void start();
    // Stops accepting and closes the socket; returns once it is closed.
    // REQUIRES: the acceptor's context is run by another thread (not called on an io thread).
    void close();

    // The bound endpoint (with the port the OS chose for port 0). Constant after construction.
    const asio::ip::tcp::endpoint& local_endpoint() const noexcept { return endpoint_; }

  private:
    void accept_next();

    io_pool& pool_;
    asio::ip::tcp::acceptor acceptor_;  // used on its strand only
    asio::steady_timer retry_timer_;    // on the acceptor's strand
    const asio::ip::tcp::endpoint endpoint_;
    const std::string name_;
    const on_accept handler_;
    bool closed_ = false;  // on the acceptor's strand only
};

}  // namespace es::server
