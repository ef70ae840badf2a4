// Tests of ports.json: a written record reads back, and damaged files are refused.
#include "server/ports_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/tests/server_test_util.h"

namespace es::server {
namespace {

TEST(ports_file_test, round_trip) {
    testing::temp_dir dir;
    ports_record r{7, "127.0.0.1", 8080, 8081, 7070, 7071, 4242};
    ASSERT_TRUE(write_ports_file(dir.path(), r));
    auto back = read_ports_file(dir.path());
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(back->node_id, 7u);
    EXPECT_EQ(back->bind, "127.0.0.1");
    EXPECT_EQ(back->http, 8080);
    EXPECT_EQ(back->grpc, 8081);
    EXPECT_EQ(back->native, 7070);
    EXPECT_EQ(back->cluster, 7071);
    EXPECT_EQ(back->pid, 4242);
    // No temporary file is left next to it.
    int files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
    EXPECT_EQ(files, 1);
}

TEST(ports_file_test, rewrite_replaces) {
    testing::temp_dir dir;
    ASSERT_TRUE(write_ports_file(dir.path(), {1, "127.0.0.1", 1, 2, 3, 4, 5}));
    ASSERT_TRUE(write_ports_file(dir.path(), {1, "127.0.0.1", 11, 12, 13, 14, 15}));
    auto back = read_ports_file(dir.path());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->http, 11);
}

TEST(ports_file_test, missing_file_is_not_found) {
    testing::temp_dir dir;
    auto r = read_ports_file(dir.path());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::not_found);
}

TEST(ports_file_test, damaged_files_are_refused) {
    testing::temp_dir dir;
    for (const char* text : {"", "{", "[]", R"({"node_id":1})",
                             R"({"node_id":1,"bind":"x","http":70000,"grpc":1,"native":1,)"
                             R"("cluster":1,"pid":1})"}) {
        std::ofstream(ports_file_path(dir.path()), std::ios::trunc) << text;
        auto r = read_ports_file(dir.path());
        EXPECT_FALSE(r) << text;
        if (!r) {
            EXPECT_EQ(r.err().code, errc::invalid_argument) << text;
        }
    }
}

TEST(ports_file_test, unwritable_directory_is_an_io_error) {
    auto s = write_ports_file("/nonexistent/dir", {1, "127.0.0.1", 1, 2, 3, 4, 5});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().code, errc::io_error);
    EXPECT_NE(s.err().message.find("/nonexistent/dir/ports.json"), std::string::npos);
}

}  // namespace
}  // namespace es::server
