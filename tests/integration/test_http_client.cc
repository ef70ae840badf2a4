// Blocking-socket HTTP client and port helpers for the integration tests.
#include "tests/integration/test_http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <utility>

namespace es::test {
namespace {

constexpr int read_timeout_s = 10;
// Replies larger than this are a server bug as far as these tests go.
constexpr size_t reply_bytes_max = 16 << 20;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

error sys_error(const std::string& what) {
    return make_error(errc::io_error, what + ": " + std::strerror(errno));
}

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

uint16_t bound_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
    }
    return ntohs(a.sin_port);
}

// A TCP socket bound to 127.0.0.1:0 (listening when `listen_too`).
int bind_any_port(bool listen_too) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in a = loopback(0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        (listen_too && ::listen(fd, 16) != 0)) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        throw std::runtime_error("bind/listen on 127.0.0.1:0: " + why);
    }
    return fd;
}

}  // namespace

std::string http_reply::header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

result<http_test_client> http_test_client::connect(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_error("socket");
    timeval tv{};
    tv.tv_sec = read_timeout_s;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in a = loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        auto e = sys_error("connect to 127.0.0.1:" + std::to_string(port));
        ::close(fd);
        return e;
    }
    return http_test_client(fd);
}

http_test_client::~http_test_client() {
    if (fd_ >= 0) ::close(fd_);
}

http_test_client::http_test_client(http_test_client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}

status http_test_client::send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("send");
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

result<bool> http_test_client::fill() {
    char chunk[16384];
    for (;;) {
        const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return make_error(errc::timed_out,
                              "no reply within " + std::to_string(read_timeout_s) + " s");
        }
        if (n < 0) return sys_error("recv");
        if (n == 0) return false;
        buffer_.append(chunk, static_cast<size_t>(n));
        if (buffer_.size() > reply_bytes_max) {
            return make_error(errc::too_large, "reply larger than the test client accepts");
        }
        return true;
    }
}

result<http_reply> http_test_client::read_reply() {
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        auto more = fill();
        if (!more) return std::move(more).err();
        if (!*more) {
            return make_error(
                errc::io_error,
                "connection closed before a full reply header (got '" + buffer_ + "')");
        }
    }
    http_reply reply;
    const std::string head = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);

    // "HTTP/1.1 200 OK"
    const size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
        return make_error(errc::invalid_argument, "bad status line '" + status_line + "'");
    }
    reply.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) end = head.size();
        const std::string line = head.substr(pos, end - pos);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) {
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            reply.headers[lower(line.substr(0, colon))] = value;
        }
        pos = end + 2;
    }

    const std::string length = reply.header("content-length");
    if (length.empty()) {
        return make_error(errc::invalid_argument, "reply without Content-Length");
    }
    const size_t body_bytes = std::stoul(length);
    while (buffer_.size() < body_bytes) {
        auto more = fill();
        if (!more) return std::move(more).err();
        if (!*more) return make_error(errc::io_error, "connection closed inside the reply body");
    }
    reply.body = buffer_.substr(0, body_bytes);
    buffer_.erase(0, body_bytes);
    return reply;
}

result<http_reply> http_test_client::request(std::string_view method, std::string_view target,
                                             std::string_view body,
                                             const std::vector<std::string>& extra_headers) {
    std::string req =
        std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& h : extra_headers) req += h + "\r\n";
    if (!body.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n";
    req += body;
    ES_TRY(send_raw(req));
    return read_reply();
}

bool http_test_client::closed_by_server() {
    if (!buffer_.empty()) return false;
    char byte;
    for (;;) {
        const ssize_t n = ::recv(fd_, &byte, 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return true;
        // A server that closes a socket before reading what the client sent (for example
        // because it stops right after the bytes arrived) resets the connection instead of
        // ending it: the kernel answers unread data with RST. That is a close by the server too.
        return n < 0 && errno == ECONNRESET;
    }
}

result<http_reply> http_call(uint16_t port, std::string_view method, std::string_view target,
                             std::string_view body) {
    auto client = http_test_client::connect(port);
    if (!client) return std::move(client).err();
    return client->request(method, target, body, {"Connection: close"});
}

std::vector<uint16_t> free_tcp_ports(int count) {
    // Below the kernel's ephemeral range: a port from inside it could be taken, before the test
    // listens on it, as the local port of some process's outgoing connection (a node dialling
    // a peer that is not up yet, say), which no choosing in advance can rule out.
    unsigned low = 32768;
    if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
        unsigned lo = 0, hi = 0;
        if (std::fscanf(f, "%u %u", &lo, &hi) == 2 && lo > 12000) low = lo;
        std::fclose(f);
    }
    const unsigned first = 10000;
    std::mt19937 pick(static_cast<unsigned>(::getpid()) * 2654435761u ^
                      static_cast<unsigned>(std::random_device{}()));
    std::vector<uint16_t> ports;
    for (int tries = 0; tries < 10000 && static_cast<int>(ports.size()) < count; ++tries) {
        const auto port = static_cast<uint16_t>(first + pick() % (low - first));
        if (std::find(ports.begin(), ports.end(), port) != ports.end()) continue;
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_in a = loopback(port);
        const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
        ::close(fd);
        if (free) ports.push_back(port);
    }
    if (static_cast<int>(ports.size()) < count) {
        throw std::runtime_error("no free TCP ports below the ephemeral range");
    }
    return ports;
}

held_port::held_port() : fd_(bind_any_port(true)), port_(bound_port(fd_)) {}

held_port::~held_port() {
    ::close(fd_);
}

}  // namespace es::test
