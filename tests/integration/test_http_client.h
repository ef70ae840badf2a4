// A small blocking HTTP/1.1 client and socket helpers for integration tests: just enough to
// check status, headers and body of the server's responses, including malformed requests that a
// real client library would refuse to send.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace es::test {

struct http_reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;

    // The header's value, or "" when absent. `name` in lower case.
    std::string header(const std::string& name) const;
};

// One connection to 127.0.0.1:port. Reads time out after 10 s, so a server that does not answer
// fails the test instead of hanging it.
class http_test_client {
  public:
    static result<http_test_client> connect(uint16_t port);
    ~http_test_client();
    http_test_client(http_test_client&& other) noexcept;
    http_test_client& operator=(http_test_client&&) = delete;
    http_test_client(const http_test_client&) = delete;
    http_test_client& operator=(const http_test_client&) = delete;

    // Sends one request (Host and, for a body, Content-Length added) and reads the reply.
    result<http_reply> request(std::string_view method, std::string_view target,
                               std::string_view body = {},
                               const std::vector<std::string>& extra_headers = {});
    // Sends bytes as they are.
    status send_raw(std::string_view bytes);
    // Reads one reply (status line, headers, Content-Length body).
    result<http_reply> read_reply();
    // True when the server closes the connection before anything else arrives, within the read
    // timeout: a read returns end of file, or the connection is reset (a server that closes
    // with the client's bytes unread makes the kernel send RST).
    bool closed_by_server();

  private:
    explicit http_test_client(int fd) : fd_(fd) {}
    // Appends more bytes to buffer_; false at end of file, error on failure or time-out.
    result<bool> fill();

    int fd_ = -1;
    std::string buffer_;
};

// Connects, sends one request with "Connection: close" and reads the reply.
result<http_reply> http_call(uint16_t port, std::string_view method, std::string_view target,
                             std::string_view body = {});

// `count` distinct TCP ports on 127.0.0.1 that were free a moment ago, chosen at random below
// the kernel's ephemeral port range (so no outgoing connection takes one as its local port).
// Another test could still bind one in between; tests use them at once.
std::vector<uint16_t> free_tcp_ports(int count);

// A socket listening on 127.0.0.1 on a port the OS chose, held until destruction: a port that
// is certainly in use.
class held_port {
  public:
    held_port();
    ~held_port();
    held_port(const held_port&) = delete;
    held_port& operator=(const held_port&) = delete;

    uint16_t port() const noexcept { return port_; }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

}  // namespace es::test
