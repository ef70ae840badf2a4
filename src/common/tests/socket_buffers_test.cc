// set_send_buffer_bytes on real loopback TCP sockets: what the kernel then reports.
#include "common/socket_buffers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace es {
namespace {

int send_buffer_of(int fd) {
    int value = -1;
    socklen_t len = sizeof value;
    EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, &len), 0);
    return value;
}

// A TCP connection over loopback: the connecting end, the accepted end.
struct tcp_pair {
    int client = -1;
    int server = -1;

    tcp_pair() {
        const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(listener, 1), 0);
        EXPECT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
        client = ::socket(AF_INET, SOCK_STREAM, 0);
        EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        server = ::accept(listener, nullptr, nullptr);
        EXPECT_GE(server, 0);
        ::close(listener);
    }
    ~tcp_pair() {
        ::close(client);
        ::close(server);
    }
};

TEST(socket_buffers, a_connected_socket_gets_the_size_asked_which_linux_doubles) {
    tcp_pair p;
    ASSERT_TRUE(set_send_buffer_bytes(p.client, 64 * 1024));
    EXPECT_EQ(send_buffer_of(p.client), 2 * 64 * 1024);
    ASSERT_TRUE(set_send_buffer_bytes(p.server, k_default_socket_send_buffer_bytes));
    EXPECT_EQ(send_buffer_of(p.server), 2 * int(k_default_socket_send_buffer_bytes));
    // The buffer is fixed now: a connection carrying data keeps it.
    const std::string chunk(1 << 20, 'x');
    ASSERT_EQ(::send(p.client, chunk.data(), 32 * 1024, 0), 32 * 1024);
    EXPECT_EQ(send_buffer_of(p.client), 2 * 64 * 1024);
}

TEST(socket_buffers, zero_leaves_the_socket_as_it_was) {
    tcp_pair p;
    const int before = send_buffer_of(p.client);
    ASSERT_TRUE(set_send_buffer_bytes(p.client, 0));
    EXPECT_EQ(send_buffer_of(p.client), before);
}

TEST(socket_buffers, a_size_past_the_system_maximum_is_capped_by_the_kernel) {
    int wmem_max = 0;
    std::ifstream("/proc/sys/net/core/wmem_max") >> wmem_max;
    if (wmem_max <= 0) GTEST_SKIP() << "no /proc/sys/net/core/wmem_max to compare with";
    tcp_pair p;
    ASSERT_TRUE(set_send_buffer_bytes(p.client, 0xffffffffu));
    EXPECT_EQ(send_buffer_of(p.client), 2 * wmem_max);
}

TEST(socket_buffers, a_bad_descriptor_is_an_error_naming_the_size) {
    auto s = set_send_buffer_bytes(-1, 4096);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find("4096"), std::string::npos) << s.err().message;
}

}  // namespace
}  // namespace es
