// The native protocol's test client: POSIX sockets with poll() time-outs.
#include "tests/integration/test_native_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace es::test {

result<std::unique_ptr<native_test_client>> native_test_client::connect(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(errc::io_error, std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int e = errno;
        ::close(fd);
        return make_error(errc::io_error, std::string("connect: ") + std::strerror(e));
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return std::unique_ptr<native_test_client>(new native_test_client(fd));
}

native_test_client::~native_test_client() {
    close();
}

void native_test_client::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

status native_test_client::send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errc::io_error, std::string("send: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

result<owned_frame> native_test_client::read_frame(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto f = reader_.next();
        if (!f) return std::move(f).err();
        if (*f) return owned_frame{(*f)->header, std::string((*f)->body)};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return make_error(errc::timed_out, "no frame in time");
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno != EINTR) {
            return make_error(errc::io_error, std::string("poll: ") + std::strerror(errno));
        }
        if (r <= 0) continue;
        char buffer[65536];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n == 0) return make_error(errc::io_error, "closed");
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return make_error(errc::io_error, std::string("closed: ") + std::strerror(errno));
        }
        reader_.feed(std::string_view(buffer, static_cast<size_t>(n)));
    }
}

bool native_test_client::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        auto f = read_frame(left);
        if (!f && f.err().code == errc::io_error) return true;
        if (!f && f.err().code == errc::timed_out) return false;
    }
}

result<protocol::hello_ok> native_test_client::handshake(uint64_t request_id) {
    std::string out;
    protocol::encode(out, request_id, protocol::hello{1, 1, 0, "integration-test"});
    auto sent = send_raw(out);
    if (!sent) return std::move(sent).err();
    auto f = read_frame();
    if (!f) return std::move(f).err();
    if (f->header.type != protocol::message_type::hello_ok) {
        return make_error(errc::invalid_argument, std::string("expected HELLO_OK, got ") +
                                                      protocol::message_type_name(f->header.type));
    }
    return protocol::decode_hello_ok(f->body);
}

status send_datagram(uint16_t port, std::string_view bytes) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(errc::io_error, std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const ssize_t n = ::sendto(fd, bytes.data(), bytes.size(), 0,
                               reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    const int e = errno;
    ::close(fd);
    if (n < 0) return make_error(errc::io_error, std::string("sendto: ") + std::strerror(e));
    return {};
}

result<owned_frame> call_skipping_pushes(native_test_client& c, std::string_view frame) {
    ES_TRY(c.send_raw(frame));
    for (;;) {
        auto f = c.read_frame();
        if (!f) return std::move(f).err();
        const auto t = f->header.type;
        if (t != protocol::message_type::events && t != protocol::message_type::gap &&
            t != protocol::message_type::subscription_ended) {
            return f;
        }
    }
}

}  // namespace es::test
