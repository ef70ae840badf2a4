// A small blocking WebSocket client for integration tests (Boost.Beast): the handshake, text
// and binary messages, the server's close code, and raw bytes after the handshake for protocol
// violations a real client library would refuse to send. Reads time out, so a server that does
// not answer fails the test instead of hanging it.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace es::test {

class websocket_test_client {
  public:
    // Connects to 127.0.0.1:port and performs the opening handshake for `target`
    // ("/v1/stream?topic=a"). Errors: io_error (connect), invalid_argument (handshake refused,
    // with the reason).
    static result<std::unique_ptr<websocket_test_client>> connect(
        uint16_t port, std::string_view target,
        std::chrono::milliseconds read_timeout = std::chrono::seconds(10));
    ~websocket_test_client();

    status send_text(std::string_view text);
    status send_json(const nlohmann::json& doc) { return send_text(doc.dump()); }
    status send_binary(std::string_view bytes);
    // Bytes written to the socket as they are, bypassing the WebSocket framing.
    status send_raw(std::string_view bytes);

    // The next text message. Errors: timed_out, not_found (the server closed; the message
    // holds the close code, see close_code()), io_error.
    result<std::string> read_text();
    result<nlohmann::json> read_json();
    // Reads until the server closes; its close code, or an error when a message arrives
    // first (`skip_messages` lets that many through) or the read times out.
    result<uint16_t> read_close(int skip_messages = 0);

    // The code of the server's close frame, once a read saw it (0 before).
    uint16_t close_code() const;

  private:
    struct impl;
    explicit websocket_test_client(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace es::test
