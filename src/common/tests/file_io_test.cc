// file_io: whole writes through pwritev, and replace_file's write-then-rename.
#include "common/file_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "temp_dir.h"

namespace es {
namespace {

namespace fs = std::filesystem;

using testing::temp_dir;

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::span<const std::byte> bytes_of(const std::string& s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

TEST(file_io, replace_file_replaces_the_whole_file_and_leaves_no_temporary) {
    temp_dir dir;
    const fs::path p = fs::path(dir.path()) / "f";
    ASSERT_TRUE(replace_file(p, bytes_of(std::string(100'000, 'a')), ".tmp"));
    ASSERT_TRUE(replace_file(p, bytes_of("short"), ".tmp"));
    EXPECT_EQ(read(p), "short");  // not the tail of the longer file before it
    EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "f.tmp"));
    ASSERT_TRUE(replace_file(p, {}, ".tmp"));
    EXPECT_EQ(fs::file_size(p), 0u);
}

TEST(file_io, replace_file_into_a_missing_directory_is_an_io_error_naming_the_path) {
    temp_dir dir;
    const fs::path p = fs::path(dir.path()) / "missing" / "f";
    const status s = replace_file(p, bytes_of("x"), ".tmp");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find((fs::path(dir.path()) / "missing").string()), std::string::npos)
        << s.err().message;
}

TEST(file_io, write_all_writes_every_iovec_at_the_offset) {
    temp_dir dir;
    const fs::path p = fs::path(dir.path()) / "g";
    const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    // More iovecs than one pwritev takes (IOV_MAX, 1024 on Linux), of mixed sizes.
    std::vector<std::string> parts;
    std::string expected(10, '\0');
    for (int i = 0; i < 3000; ++i) {
        parts.push_back(std::string(static_cast<size_t>(i % 7), static_cast<char>('a' + i % 26)));
        expected += parts.back();
    }
    std::vector<struct iovec> iov;
    for (auto& part : parts) iov.push_back({part.data(), part.size()});
    ASSERT_TRUE(write_all(fd, iov, 10, p));
    ASSERT_TRUE(sync_fd(fd, p, true));
    ::close(fd);
    EXPECT_EQ(read(p), expected);
}

}  // namespace
}  // namespace es
