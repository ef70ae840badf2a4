// Accept-and-close listener for protocols that are not built yet.
#include "server/reserved_port_listener.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace es::server {

reserved_port_listener::reserved_port_listener(io_pool& pool, asio::ip::tcp::acceptor acceptor,
                                               std::string name, std::string protocol)
    : loop_(pool, std::move(acceptor), name, [name, protocol](asio::ip::tcp::socket socket) {
          boost::system::error_code ec;
          const auto peer = socket.remote_endpoint(ec);
          spdlog::debug("{}: closing connection from {}: {} is not built yet", name,
                        ec ? std::string("unknown peer") : endpoint_text(peer), protocol);
          socket.close(ec);
      }) {}

}  // namespace es::server
