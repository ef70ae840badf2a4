// Exclusive ownership of a node's data directory: the directory is created if missing and
// <data_dir>/LOCK is held with flock() for the life of the node, so that two nodes never share
// one directory.
#pragma once

#include <string>

#include "common/result.h"

namespace es::server {

class data_dir_lock {
  public:
    data_dir_lock() = default;
    ~data_dir_lock();
    data_dir_lock(data_dir_lock&& other) noexcept;
    data_dir_lock& operator=(data_dir_lock&& other) noexcept;
    data_dir_lock(const data_dir_lock&) = delete;
    data_dir_lock& operator=(const data_dir_lock&) = delete;

    // Creates `dir` (and its parents) when missing, then takes the lock without waiting and
    // writes this process's pid into LOCK (for the error another process gets).
    // Errors (io_error, the message names the directory): the path is a file or cannot be
    // created, LOCK cannot be opened for writing, or another process holds the lock
    // ("data directory X is in use by another eventstream process (pid N)").
    static result<data_dir_lock> acquire(const std::string& dir);

    bool held() const noexcept { return fd_ >= 0; }
    // Releases the lock. LOCK itself stays: removing it would let a process that opened the
    // old file and a process that creates a new one both believe they hold the lock.
    void release() noexcept;

  private:
    explicit data_dir_lock(int fd) : fd_(fd) {}

    int fd_ = -1;
};

}  // namespace es::server
