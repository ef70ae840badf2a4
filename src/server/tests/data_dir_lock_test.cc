// Tests of the data directory lock: creation, exclusion, release, and unusable paths.
#include "server/data_dir_lock.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/tests/server_test_util.h"

namespace es::server {
namespace {

TEST(data_dir_lock_test, creates_missing_directories) {
    testing::temp_dir dir;
    const std::string data = dir / "a/b/c";
    auto lock = data_dir_lock::acquire(data);
    ASSERT_TRUE(lock) << lock.err().message;
    EXPECT_TRUE(lock->held());
    EXPECT_TRUE(std::filesystem::is_directory(data));
    std::ifstream in(data + "/LOCK");
    long pid = 0;
    in >> pid;
    EXPECT_EQ(pid, ::getpid());
}

TEST(data_dir_lock_test, second_lock_fails_until_released) {
    testing::temp_dir dir;
    auto first = data_dir_lock::acquire(dir.path());
    ASSERT_TRUE(first) << first.err().message;

    // flock() locks belong to the open file, so a second open in this process conflicts too.
    auto second = data_dir_lock::acquire(dir.path());
    ASSERT_FALSE(second);
    EXPECT_EQ(second.err().code, errc::io_error);
    EXPECT_EQ(second.err().message, "data directory " + dir.path() +
                                        " is in use by another eventstream process (pid " +
                                        std::to_string(::getpid()) + ")");

    first->release();
    EXPECT_FALSE(first->held());
    auto third = data_dir_lock::acquire(dir.path());
    EXPECT_TRUE(third) << third.err().message;
}

TEST(data_dir_lock_test, moved_lock_stays_held) {
    testing::temp_dir dir;
    auto first = data_dir_lock::acquire(dir.path());
    ASSERT_TRUE(first);
    data_dir_lock moved = std::move(*first);
    EXPECT_TRUE(moved.held());
    EXPECT_FALSE(data_dir_lock::acquire(dir.path()));
}

TEST(data_dir_lock_test, a_file_is_not_a_data_directory) {
    testing::temp_dir dir;
    const std::string file = dir / "file";
    std::ofstream(file) << "x";
    auto lock = data_dir_lock::acquire(file);
    ASSERT_FALSE(lock);
    EXPECT_NE(lock.err().message.find("data directory " + file), std::string::npos)
        << lock.err().message;
}

TEST(data_dir_lock_test, directory_below_a_file_cannot_be_created) {
    testing::temp_dir dir;
    const std::string file = dir / "file";
    std::ofstream(file) << "x";
    auto lock = data_dir_lock::acquire(file + "/sub");
    ASSERT_FALSE(lock);
    EXPECT_NE(lock.err().message.find("cannot be created"), std::string::npos)
        << lock.err().message;
}

}  // namespace
}  // namespace es::server
