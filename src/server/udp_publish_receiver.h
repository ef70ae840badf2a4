// Fire-and-forget publishing over UDP on the native port (docs/protocol.md "UDP"): one
// datagram is one PUBLISH frame with acks=0; nothing is ever answered. Every datagram is
// counted accepted, dropped (the engine refused it) or malformed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <memory>

#include "common/result.h"
#include "core/engine.h"
#include "protocol/frame_format.h"
#include "server/native_convert.h"
#include "server/native_metrics.h"

namespace es::server {

namespace asio = boost::asio;

class udp_publish_receiver {
  public:
    // Binds address:port (UDP). Errors: io_error naming native_port.
    static result<std::unique_ptr<udp_publish_receiver>> open(asio::io_context& io,
                                                              const asio::ip::address& address,
                                                              uint16_t port, core::engine& engine,
                                                              native_metrics& metrics);

    // Starts receiving. Any thread.
    void start();
    // Stops receiving and closes the socket; returns once it is closed.
    // REQUIRES: the io_context is run by another thread.
    void close();

  private:
    udp_publish_receiver(asio::ip::udp::socket socket, core::engine& engine,
                         native_metrics& metrics);
    void receive_next();
    void on_datagram(size_t bytes);

    asio::ip::udp::socket socket_;  // on its strand only
    core::engine& engine_;
    native_metrics& metrics_;
    // One byte more than the largest datagram allowed, so that a larger one shows.
    std::array<char, protocol::max_udp_datagram_bytes + 1> buffer_;
    asio::ip::udp::endpoint sender_;
    publish_views views_;
    bool closed_ = false;  // on the strand
};

}  // namespace es::server
