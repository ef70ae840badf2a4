// <data_dir>/ports.json: the addresses a running node listens on, so that scripts and tests that
// start nodes with port 0 can find them. Written by the node, read by tests and tools.
//
// Layout (one JSON object, written atomically once every listener is bound, removed on a clean
// stop because its ports are no longer valid):
//   {"node_id": 1, "bind": "127.0.0.1", "http": 8080, "grpc": 8081, "native": 7070,
//    "cluster": 7071, "pid": 12345}
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace es::server {

inline constexpr const char* ports_file_name = "ports.json";

struct ports_record {
    uint32_t node_id = 0;
    std::string bind;
    uint16_t http = 0;
    uint16_t grpc = 0;
    uint16_t native = 0;
    uint16_t cluster = 0;
    int64_t pid = 0;
};

// <data_dir>/ports.json.
std::string ports_file_path(const std::string& data_dir);

// Writes the record to a temporary file in data_dir, syncs it and renames it over ports.json,
// so that a reader never sees a half-written file. Error: io_error naming the path.
status write_ports_file(const std::string& data_dir, const ports_record& record);

// Reads and checks ports.json. Errors: not_found (no file yet), invalid_argument (not the
// layout above, e.g. caught mid-way by a reader that does not use rename).
result<ports_record> read_ports_file(const std::string& data_dir);

}  // namespace es::server
