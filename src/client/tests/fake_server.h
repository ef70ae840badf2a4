// A tiny native-protocol server for the client's unit tests: a real loopback TCP socket and the
// real codec, with the answers chosen by the test. One connection at a time; the test can drop
// it to exercise reconnection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.h"

namespace es::client::test {

class fake_server {
  public:
    // Called on the server's thread for every frame after HELLO (which is answered with
    // HELLO_OK). Answers go out with reply().
    using handler = std::function<void(fake_server&, const protocol::frame&)>;

    explicit fake_server(handler h);
    ~fake_server();

    uint16_t port() const noexcept { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

    // Writes a whole frame on the current connection (any thread).
    void reply(const std::string& frame);
    // Closes the current connection (any thread); the server accepts the next one.
    void drop_connection();
    // Connections accepted so far.
    int connections() const noexcept { return connections_.load(); }
    // Frames received after HELLO, in order, as (type, body) copies.
    std::vector<std::pair<protocol::message_type, std::string>> received() const;
    // Waits until `pred(received())` holds, up to 5 s; false on time-out.
    bool wait_for(const std::function<
                  bool(const std::vector<std::pair<protocol::message_type, std::string>>&)>& pred);

  private:
    void run();
    void serve(int fd);

    handler handler_;
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> current_fd_{-1};
    std::mutex write_mu_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::pair<protocol::message_type, std::string>> received_;  // guarded by mu_
    std::thread thread_;
};

// The bytes of one record (core/record_format.h layout), for EVENTS frames in tests.
std::string make_record(uint64_t offset, const std::string& value, const std::string* key = nullptr,
                        int64_t timestamp_ns = 0);

}  // namespace es::client::test
