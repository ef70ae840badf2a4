// A small blocking client of the native protocol for the integration tests: raw frames over a
// TCP socket with read time-outs, built on the shared codec. It does exactly what a test tells
// it, malformed bytes included.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "protocol/codec.h"

namespace es::test {

// A frame read back, owning its body.
struct owned_frame {
    protocol::frame_header header;
    std::string body;
};

class native_test_client {
  public:
    // Connects to 127.0.0.1:port. Error: io_error.
    static result<std::unique_ptr<native_test_client>> connect(uint16_t port);
    ~native_test_client();

    // Sends bytes as they are. Error: io_error (e.g. the server closed).
    status send_raw(std::string_view bytes);
    // Reads the next frame, waiting up to `timeout`. Errors: timed_out, io_error "closed" when
    // the server closed the connection, invalid_argument for a bad frame from the server.
    result<owned_frame> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // True when the server closes the connection within `timeout` (frames before are skipped).
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // HELLO and its HELLO_OK. Error: whatever came instead.
    result<protocol::hello_ok> handshake(uint64_t request_id = 1);
    void close();

  private:
    explicit native_test_client(int fd) : fd_(fd) {}
    int fd_;
    protocol::frame_reader reader_{protocol::max_frame_bytes_limit};
};

// Sends `frame` and returns the next frame that is not a push (EVENTS, GAP,
// SUBSCRIPTION_ENDED). Error: that of send_raw or read_frame.
result<owned_frame> call_skipping_pushes(native_test_client& c, std::string_view frame);

// A UDP datagram to 127.0.0.1:port. Error: io_error.
status send_datagram(uint16_t port, std::string_view bytes);

}  // namespace es::test
