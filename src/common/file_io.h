// Small POSIX file helpers shared by the writers of the node's own files (the Raft log store,
// ports.json): whole writes whatever the kernel splits, syncs, and the write-then-rename that
// lets a reader see either the old file or the new one, never a part. Errors are io_error
// naming the path and the system's reason.
#pragma once

#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace es {

// io_error "<what> <path>: <strerror(err)>".
error os_error(const std::string& what, const std::filesystem::path& path, int err = errno);

// Writes every iovec at `offset` on (pwritev), however the kernel splits the writes; `iov` is
// consumed. `path` only names the file in errors.
status write_all(int fd, std::vector<struct iovec>& iov, uint64_t offset,
                 const std::filesystem::path& path);

// fdatasync (data_only) or fsync.
status sync_fd(int fd, const std::filesystem::path& path, bool data_only);

// fsync of a directory, so that the names created or renamed in it last. A file system that
// cannot sync directories (fsync answers EINVAL) counts as done. Error: io_error.
status sync_directory(const std::filesystem::path& dir);

// Writes `bytes` to `path` + `tmp_suffix`, syncs it, renames it over `path` and syncs the
// directory. A crash leaves the old file or the new one (and perhaps the temporary file).
status replace_file(const std::filesystem::path& path, std::span<const std::byte> bytes,
                    const std::string& tmp_suffix);

}  // namespace es
