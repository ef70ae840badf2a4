// A tiny native-protocol server for the client's unit tests (fake_server.h).
#include "fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace es::client::test {

fake_server::fake_server(handler h) : handler_(std::move(h)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 8);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
}

fake_server::~fake_server() {
    stop_.store(true);
    drop_connection();
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
}

void fake_server::run() {
    while (!stop_.load()) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) continue;
        ++connections_;
        current_fd_.store(fd);
        serve(fd);
        current_fd_.store(-1);
        ::close(fd);
    }
}

void fake_server::serve(int fd) {
    protocol::frame_reader reader(protocol::max_frame_bytes_limit);
    char buf[65536];
    bool hello_done = false;
    while (!stop_.load()) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return;
        reader.feed(std::string_view(buf, size_t(n)));
        for (;;) {
            auto f = reader.next();
            if (!f || !*f) break;
            const protocol::frame fr = **f;
            if (!hello_done && fr.header.type == protocol::message_type::hello) {
                hello_done = true;
                std::string out;
                protocol::encode(out, fr.header.request_id, protocol::hello_ok{});
                reply(out);
                continue;
            }
            {
                std::lock_guard lk(mu_);
                received_.emplace_back(fr.header.type, std::string(fr.body));
            }
            cv_.notify_all();
            handler_(*this, fr);
        }
    }
}

void fake_server::reply(const std::string& frame) {
    std::lock_guard lk(write_mu_);
    const int fd = current_fd_.load();
    if (fd < 0) return;
    size_t at = 0;
    while (at < frame.size()) {
        const ssize_t n = ::send(fd, frame.data() + at, frame.size() - at, MSG_NOSIGNAL);
        if (n <= 0) return;
        at += size_t(n);
    }
}

void fake_server::drop_connection() {
    const int fd = current_fd_.load();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

std::vector<std::pair<protocol::message_type, std::string>> fake_server::received() const {
    std::lock_guard lk(mu_);
    return received_;
}

bool fake_server::wait_for(
    const std::function<bool(const std::vector<std::pair<protocol::message_type, std::string>>&)>&
        pred) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(5), [&] { return pred(received_); });
}

std::string make_record(uint64_t offset, const std::string& value, const std::string* key,
                        int64_t timestamp_ns) {
    const uint32_t key_bytes = key ? uint32_t(key->size()) : 0;
    const uint32_t payload_bytes = uint32_t(value.size());
    const size_t total = (32 + key_bytes + payload_bytes + 7) & ~size_t(7);
    std::string r(total, '\0');
    const uint32_t record_bytes = uint32_t(total);
    const uint16_t headers_bytes = 0;
    const uint16_t flags = key ? 1 : 0;
    std::memcpy(&r[0], &record_bytes, 4);
    std::memcpy(&r[4], &key_bytes, 4);
    std::memcpy(&r[8], &payload_bytes, 4);
    std::memcpy(&r[12], &headers_bytes, 2);
    std::memcpy(&r[14], &flags, 2);
    std::memcpy(&r[16], &timestamp_ns, 8);
    std::memcpy(&r[24], &offset, 8);
    if (key) std::memcpy(&r[32], key->data(), key_bytes);
    std::memcpy(&r[32 + key_bytes], value.data(), payload_bytes);
    return r;
}

}  // namespace es::client::test
