// Small POSIX file helpers (see file_io.h).
#include "common/file_io.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

namespace es {

namespace fs = std::filesystem;

error os_error(const std::string& what, const fs::path& path, int err) {
    return make_error(errc::io_error,
                      what + " " + path.string() + ": " + std::generic_category().message(err));
}

status write_all(int fd, std::vector<struct iovec>& iov, uint64_t offset, const fs::path& path) {
    size_t first = 0;
    while (first < iov.size()) {
        const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
        const ssize_t n = ::pwritev(fd, iov.data() + first, count, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error("cannot write", path);
        }
        offset += static_cast<uint64_t>(n);
        size_t left = static_cast<size_t>(n);
        while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
        if (left > 0) {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    return {};
}

status sync_fd(int fd, const fs::path& path, bool data_only) {
    const int rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
    if (rc != 0) return os_error("cannot sync", path);
    return {};
}

status sync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("cannot open the directory", dir);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    // Some file systems cannot sync a directory at all and say so with EINVAL (PostgreSQL's
    // fsync_fname skips it the same way): its entries are then as durable as that file
    // system makes them, and refusing to start or write over it would help no one.
    if (rc != 0 && err != EINVAL) return os_error("cannot sync", dir, err);
    return {};
}

status replace_file(const fs::path& path, std::span<const std::byte> bytes,
                    const std::string& tmp_suffix) {
    const fs::path tmp = path.string() + tmp_suffix;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return os_error("cannot create", tmp);
    std::vector<struct iovec> iov{{const_cast<std::byte*>(bytes.data()), bytes.size()}};
    status s = write_all(fd, iov, 0, tmp);
    if (s) s = sync_fd(fd, tmp, false);
    if (::close(fd) != 0 && s) s = os_error("cannot close", tmp);
    if (s && ::rename(tmp.c_str(), path.c_str()) != 0) s = os_error("cannot rename", tmp);
    if (!s) {
        ::unlink(tmp.c_str());
        return s;
    }
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    return sync_directory(dir);
}

}  // namespace es
