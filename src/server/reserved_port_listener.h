// A listener for a protocol that is not built yet (gRPC, native, cluster). Its port is bound
// and listening, so that conflicts fail at start and a port of 0 resolves to the real port the
// protocol will use; every connection is closed at once.
#pragma once

#include <string>

#include "server/accept_loop.h"

namespace es::server {

class reserved_port_listener {
  public:
    // `name` names the listener in logs ("native"); `protocol` what is missing ("the native
    // protocol").
    reserved_port_listener(io_pool& pool, asio::ip::tcp::acceptor acceptor, std::string name,
                           std::string protocol);

    void start() { loop_.start(); }
    // See accept_loop::close.
    void close() { loop_.close(); }
    const asio::ip::tcp::endpoint& local_endpoint() const noexcept {
        return loop_.local_endpoint();
    }

  private:
    accept_loop loop_;
};

}  // namespace es::server
