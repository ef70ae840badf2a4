// One connection to a node's native port, served by its own I/O thread: HELLO handshake,
// pipelined requests matched by request_id, streams (a SUBSCRIBE whose pushes carry its
// request_id), request time-outs, idle pings, and reconnection with backoff after a loss.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "eventstream/options.h"
#include "eventstream/status.h"
#include "protocol/frame_format.h"

namespace es::client {

using eventstream::error;
using eventstream::error_code;
using eventstream::status;
template <class T>
using result = eventstream::result<T>;

// A frame received, owning its body.
struct owned_frame {
    protocol::frame_header header;
    std::string body;
};

// Called once on the I/O thread with the answer or an error (connection_lost, timed_out, closed).
// An ERROR frame is delivered as a frame; answer_error() turns it into an error.
using reply_handler = std::function<void(result<owned_frame>)>;
// Called on the I/O thread for each frame pushed on a stream after its first answer; the
// handler may keep the frame (its body is moved in, not copied).
using push_handler = std::function<void(owned_frame&&)>;
// Called on the I/O thread once when a stream ends because the connection was lost or closed.
using lost_handler = std::function<void(const error&)>;

class connection {
  public:
    // Starts the I/O thread, connects and says HELLO, waiting up to connect_timeout_ms.
    // `on_reconnect` (may be empty) is called on the I/O thread after every successful
    // reconnection (not the first connect). Errors: invalid_argument (address),
    // connection_lost (refused, unreachable), timed_out, protocol_error (the server refused
    // HELLO or answered nonsense).
    static result<std::unique_ptr<connection>> open(const eventstream::connection_options& o,
                                                    std::function<void()> on_reconnect = {});
    // Closes: pending requests get `closed`.
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // A fresh request id. Any thread.
    uint64_t next_request_id() noexcept;

    // Sends `frame` (encoded with `request_id`) and calls `on_reply` once. While the connection
    // is down the request fails at once with connection_lost. Any thread.
    void request(uint64_t request_id, std::string frame, reply_handler on_reply);
    // As request(), for a frame in two parts: `head`, then the bytes `tail` views, which `keep`
    // holds alive until they are written. A long tail is written from its own bytes (a
    // gathered write, no copy); a short one is copied into the write buffer.
    void request_with_tail(uint64_t request_id, std::string head, std::string_view tail,
                           std::shared_ptr<const void> keep, reply_handler on_reply);
    // As request(), but the entry stays after the first answer: later frames with the same
    // request_id go to `on_push`, until end_stream() or a loss (`on_lost`). Any thread.
    void stream(uint64_t request_id, std::string frame, reply_handler on_reply,
                push_handler on_push, lost_handler on_lost);
    void end_stream(uint64_t request_id);
    // Sends a frame that gets no answer (CREDIT, PUBLISH with acks=0); `on_written` (may be
    // empty) runs once it is written (ok) or cannot be (error). Any thread.
    void send(std::string frame, std::function<void(status)> on_written = {});

    // Sends and waits for the answer. Any thread but the I/O thread.
    result<owned_frame> call(uint64_t request_id, std::string frame);

    // The largest frame the server takes (HELLO_OK).
    uint32_t max_frame_bytes() const noexcept;
    bool connected() const noexcept;
    // Whether the caller is this connection's I/O thread (where the handlers run).
    bool on_io_thread() const noexcept;

    // Closes the socket and stops the I/O thread; every pending request has had its answer
    // when it returns, also for a caller that came while another thread was closing. A
    // request made at any time during or after close() gets `closed`. Idempotent. From the
    // I/O thread (a handler) it only starts the close, which goes on when the handler returns
    // (pending requests then get `closed`); the destructor's close() joins the thread.
    void close();
    // From a handler (the I/O thread only): starts the close as close() does there, and runs
    // `then` on the I/O thread once the pending requests have had their `closed` answers.
    void close_from_handler(std::function<void()> then);

    struct impl;

  private:
    explicit connection(std::shared_ptr<impl> i);
    std::shared_ptr<impl> impl_;
};

// When `f` is an ERROR frame, its error; when it is not of type `expected`, protocol_error.
status answer_error(const owned_frame& f, protocol::message_type expected);

// Splits "host:port". Error: invalid_argument.
result<std::pair<std::string, uint16_t>> parse_server_address(const std::string& address);

}  // namespace es::client
