#include "common/socket_buffers.h"

#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace es {

status set_send_buffer_bytes(int fd, uint32_t bytes) {
    if (bytes == 0) return {};
    // The kernel takes an int; larger values are capped by wmem_max anyway.
    const int value = bytes > uint32_t{1} << 30 ? 1 << 30 : static_cast<int>(bytes);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, sizeof value) != 0) {
        return make_error(errc::io_error, "cannot set the socket's send buffer to " +
                                              std::to_string(bytes) +
                                              " bytes: " + std::generic_category().message(errno));
    }
    return {};
}

}  // namespace es
