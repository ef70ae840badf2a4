// flock()-based lock on <data_dir>/LOCK.
#include "server/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace es::server {
namespace {

std::string errno_text(int e) {
    return std::error_code(e, std::generic_category()).message();
}

// The pid recorded by the holder, or "" when LOCK is empty or unreadable.
std::string holder_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return {};
    std::string pid(buf, static_cast<size_t>(n));
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return pid;
}

}  // namespace

data_dir_lock::~data_dir_lock() {
    release();
}

data_dir_lock::data_dir_lock(data_dir_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

data_dir_lock& data_dir_lock::operator=(data_dir_lock&& other) noexcept {
    if (this != &other) {
        release();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

void data_dir_lock::release() noexcept {
    if (fd_ < 0) return;
    // Closing the descriptor drops the flock.
    ::close(fd_);
    fd_ = -1;
}

result<data_dir_lock> data_dir_lock::acquire(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return make_error(errc::io_error,
                          "data directory " + dir + " cannot be created: " + ec.message());
    }
    if (!fs::is_directory(dir, ec)) {
        return make_error(errc::io_error, "data directory " + dir + " is not a directory");
    }

    const std::string path = (fs::path(dir) / "LOCK").string();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return make_error(errc::io_error, "data directory " + dir + " is not usable: cannot open " +
                                              path + ": " + errno_text(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        std::string message;
        if (e == EWOULDBLOCK) {
            const std::string pid = holder_pid(fd);
            message = "data directory " + dir + " is in use by another eventstream process" +
                      (pid.empty() ? "" : " (pid " + pid + ")");
        } else {
            message = "data directory " + dir + " cannot be locked: " + errno_text(e);
        }
        ::close(fd);
        return make_error(errc::io_error, message);
    }

    // Best effort: the pid only makes the error of a second process clearer.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        const int e = errno;
        ::close(fd);
        return make_error(errc::io_error, "data directory " + dir + " is not writable: " + path +
                                              ": " + errno_text(e));
    }
    return data_dir_lock(fd);
}

}  // namespace es::server
