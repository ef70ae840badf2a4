// Opening listeners and the accept loop shared by the HTTP and the reserved-port listeners.
#include "server/accept_loop.h"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <future>
#include <utility>

namespace es::server {
namespace {

// After an accept error that is not a close (out of descriptors, say), wait this long before the
// next try so that the loop does not spin on the error.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);

}  // namespace

std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    const std::string host =
        address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return host + ":" + std::to_string(endpoint.port());
}

result<asio::ip::tcp::acceptor> open_listener(asio::io_context& io, const std::string& bind,
                                              uint16_t port, std::string_view field) {
    using asio::ip::tcp;
    boost::system::error_code ec;
    asio::ip::address address = asio::ip::make_address(bind, ec);
    if (ec) {
        tcp::resolver resolver(io);
        auto results = resolver.resolve(bind, "", tcp::resolver::passive, ec);
        if (ec || results.empty()) {
            return make_error(errc::config_error, "bind: cannot resolve '" + bind +
                                                      "': " + (ec ? ec.message() : "no address"));
        }
        address = results.begin()->endpoint().address();
    }
    const tcp::endpoint endpoint(address, port);
    const auto fail = [&](const boost::system::error_code& e) {
        return make_error(errc::io_error, std::string(field) + ": cannot listen on " +
                                              endpoint_text(endpoint) + ": " + e.message());
    };

    tcp::acceptor acceptor(asio::make_strand(io));
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return fail(ec);
    // Lets a restarted node take its port while old connections sit in TIME_WAIT. On Linux
    // this does not let two processes listen on one port, so conflicts are still reported.
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (ec) return fail(ec);
    acceptor.bind(endpoint, ec);
    if (ec) return fail(ec);
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail(ec);
    return acceptor;
}

accept_loop::accept_loop(io_pool& pool, asio::ip::tcp::acceptor acceptor, std::string name,
                         on_accept handler)
    : pool_(pool),
      acceptor_(std::move(acceptor)),
      retry_timer_(acceptor_.get_executor()),
      endpoint_(acceptor_.local_endpoint()),
      name_(std::move(name)),
      handler_(std::move(handler)) {}

void accept_loop::start() {
    asio::dispatch(acceptor_.get_executor(), [this] { accept_next(); });
}

void accept_loop::close() {
    std::promise<void> done;
    asio::post(acceptor_.get_executor(), [this, &done] {
        closed_ = true;
        boost::system::error_code ignored;
        retry_timer_.cancel();
        acceptor_.close(ignored);
        done.set_value();
    });
    done.get_future().wait();
}

void accept_loop::accept_next() {
    if (closed_) return;
    // Each connection goes to the next io thread's context; the handler runs on the
    // acceptor's strand.
    acceptor_.async_accept(pool_.next().get_executor(), [this](const boost::system::error_code& ec,
                                                               connection_socket socket) {
        if (closed_ || ec == asio::error::operation_aborted) return;
        if (ec) {
            spdlog::warn("{}: accept failed: {}; retrying", name_, ec.message());
            retry_timer_.expires_after(accept_retry_delay);
            retry_timer_.async_wait([this](const boost::system::error_code& e) {
                if (!e) accept_next();
            });
            return;
        }
        handler_(std::move(socket));
        accept_next();
    });
}

}  // namespace es::server
