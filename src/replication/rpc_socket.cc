// Deadline-bounded socket steps for node-to-node requests (see rpc_socket.h).
#include "replication/rpc_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace es::replication {

status wait_fd(int fd, short events, rpc_clock::time_point deadline, int cancel_fd) {
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - rpc_clock::now());
        const int wait_ms =
            left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1'000'000));
        pollfd p[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
        const int rv = ::poll(p, cancel_fd >= 0 ? 2 : 1, wait_ms);
        if (rv > 0) {
            if (cancel_fd >= 0 && p[1].revents != 0) {
                return make_error(errc::unavailable, "the raft host is stopping");
            }
            return {};
        }
        if (rv == 0) {
            if (wait_ms == 0) return make_error(errc::timed_out, "deadline passed");
            continue;
        }
        if (errno == EINTR) continue;
        return make_error(errc::unavailable, std::string("poll: ") + std::strerror(errno));
    }
}

status send_all(int fd, std::span<iovec> parts, rpc_clock::time_point deadline, int cancel_fd) {
    size_t first = 0;
    while (first < parts.size()) {
        if (parts[first].iov_len == 0) {
            ++first;
            continue;
        }
        msghdr msg{};
        msg.msg_iov = parts.data() + first;
        msg.msg_iovlen = parts.size() - first;
        const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                ES_TRY(wait_fd(fd, POLLOUT, deadline, cancel_fd));
                continue;
            }
            return make_error(errc::unavailable, std::string("send: ") + std::strerror(errno));
        }
        size_t sent = static_cast<size_t>(n);
        while (sent > 0 && first < parts.size()) {
            const size_t take = std::min(sent, parts[first].iov_len);
            parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + take;
            parts[first].iov_len -= take;
            sent -= take;
            if (parts[first].iov_len == 0) ++first;
        }
    }
    return {};
}

bool prepare_socket(int fd) {
    const int flags = ::fcntl(fd, F_GETFL, 0);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return false;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
}

}  // namespace es::replication
