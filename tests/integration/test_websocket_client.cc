// The blocking Beast WebSocket client of the integration tests.
#include "tests/integration/test_websocket_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace es::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

// Reads are asynchronous and run on `io` for at most the read timeout (Asio's blocking reads
// ignore SO_RCVTIMEO). A read that timed out stays pending, and the next read_text() takes its
// result, so no message is lost and the stream is never cancelled half-way.
struct websocket_test_client::impl {
    asio::io_context io;
    websocket::stream<asio::ip::tcp::socket> ws{io};
    beast::flat_buffer buffer;
    uint16_t close_code = 0;
    std::chrono::milliseconds read_timeout{10'000};
    bool read_pending = false;
    bool read_done = false;
    beast::error_code read_ec;

    // Runs the io_context until `done` or the deadline.
    void run_until(const bool& done, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_one_until(deadline);
        }
    }

    beast::error_code write(asio::const_buffer b) {
        bool done = false;
        beast::error_code result;
        ws.async_write(b, [&](beast::error_code ec, std::size_t) {
            result = ec;
            done = true;
        });
        run_until(done, std::chrono::seconds(10));
        if (!done) return asio::error::timed_out;
        return result;
    }
};

websocket_test_client::websocket_test_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
websocket_test_client::~websocket_test_client() {
    beast::error_code ignored;
    impl_->ws.next_layer().close(ignored);
}

result<std::unique_ptr<websocket_test_client>> websocket_test_client::connect(
    uint16_t port, std::string_view target, std::chrono::milliseconds read_timeout) {
    auto p = std::make_unique<impl>();
    beast::error_code ec;
    auto& socket = p->ws.next_layer();
    socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return make_error(errc::io_error, "connect: " + ec.message());
    p->read_timeout = read_timeout;
    timeval tv{};
    tv.tv_sec = 10;  // the blocking handshake
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    websocket::response_type response;
    p->ws.handshake(response, "127.0.0.1:" + std::to_string(port), std::string(target), ec);
    if (ec) {
        return make_error(errc::invalid_argument, "handshake: " + ec.message() + " (status " +
                                                      std::to_string(response.result_int()) + ")");
    }
    return std::unique_ptr<websocket_test_client>(new websocket_test_client(std::move(p)));
}

status websocket_test_client::send_text(std::string_view text) {
    impl_->ws.text(true);
    const auto ec = impl_->write(asio::buffer(text.data(), text.size()));
    if (ec) return make_error(errc::io_error, "write: " + ec.message());
    return {};
}

status websocket_test_client::send_binary(std::string_view bytes) {
    impl_->ws.binary(true);
    const auto ec = impl_->write(asio::buffer(bytes.data(), bytes.size()));
    if (ec) return make_error(errc::io_error, "write: " + ec.message());
    return {};
}

status websocket_test_client::send_raw(std::string_view bytes) {
    beast::error_code ec;
    asio::write(impl_->ws.next_layer(), asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec) return make_error(errc::io_error, "raw write: " + ec.message());
    return {};
}

result<std::string> websocket_test_client::read_text() {
    impl& p = *impl_;
    if (!p.read_pending) {
        p.buffer.clear();
        p.read_pending = true;
        p.read_done = false;
        p.ws.async_read(p.buffer, [&p](beast::error_code e, std::size_t) {
            p.read_ec = e;
            p.read_done = true;
        });
    }
    p.run_until(p.read_done, p.read_timeout);
    if (!p.read_done) return make_error(errc::timed_out, "no message within the read timeout");
    p.read_pending = false;
    const beast::error_code ec = p.read_ec;
    if (ec == websocket::error::closed) {
        impl_->close_code = static_cast<uint16_t>(impl_->ws.reason().code);
        return make_error(errc::not_found, "closed by the server with " +
                                               std::to_string(impl_->close_code) + " " +
                                               std::string(impl_->ws.reason().reason.c_str()));
    }
    if (ec) return make_error(errc::io_error, "read: " + ec.message());
    return beast::buffers_to_string(impl_->buffer.data());
}

result<nlohmann::json> websocket_test_client::read_json() {
    auto text = read_text();
    if (!text) return std::move(text).err();
    auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded()) return make_error(errc::invalid_argument, "not JSON: " + *text);
    return doc;
}

result<uint16_t> websocket_test_client::read_close(int skip_messages) {
    for (int i = 0;; ++i) {
        auto text = read_text();
        if (text) {
            if (i < skip_messages) continue;
            return make_error(errc::invalid_argument, "a message instead of a close: " + *text);
        }
        if (text.err().code == errc::not_found) return impl_->close_code;
        return std::move(text).err();
    }
}

uint16_t websocket_test_client::close_code() const {
    return impl_->close_code;
}

}  // namespace es::test
