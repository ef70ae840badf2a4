// Atomic write and checked read of ports.json.
#include "server/ports_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace es::server {
namespace {

std::string errno_text(int e) {
    return std::error_code(e, std::generic_category()).message();
}

}  // namespace

std::string ports_file_path(const std::string& data_dir) {
    return (std::filesystem::path(data_dir) / ports_file_name).string();
}

status write_ports_file(const std::string& data_dir, const ports_record& r) {
    const nlohmann::json doc = {
        {"node_id", r.node_id}, {"bind", r.bind},       {"http", r.http}, {"grpc", r.grpc},
        {"native", r.native},   {"cluster", r.cluster}, {"pid", r.pid}};
    const std::string text = doc.dump() + "\n";
    const std::string path = ports_file_path(data_dir);
    // One temporary name per process: two writers never share a temporary file.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());

    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return make_error(errc::io_error, "cannot write " + tmp + ": " + errno_text(errno));
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return make_error(errc::io_error, "cannot write " + tmp + ": " + errno_text(e));
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return make_error(errc::io_error, "cannot write " + tmp + ": " + errno_text(e));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return make_error(errc::io_error,
                          "cannot rename " + tmp + " to " + path + ": " + errno_text(e));
    }
    return {};
}

result<ports_record> read_ports_file(const std::string& data_dir) {
    const std::string path = ports_file_path(data_dir);
    std::ifstream in(path);
    if (!in) return make_error(errc::not_found, "cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    const auto doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return make_error(errc::invalid_argument, path + " is not a JSON object");

    ports_record r;
    auto get_uint = [&](const char* key, uint64_t max, uint64_t& out) -> status {
        const auto it = doc.find(key);
        if (it == doc.end() || !it->is_number_unsigned() || it->get<uint64_t>() > max) {
            return make_error(errc::invalid_argument,
                              path + ": field '" + key + "' is missing or out of range");
        }
        out = it->get<uint64_t>();
        return {};
    };
    uint64_t v = 0;
    ES_TRY(get_uint("node_id", 0xffffffffu, v));
    r.node_id = static_cast<uint32_t>(v);
    ES_TRY(get_uint("http", 65535, v));
    r.http = static_cast<uint16_t>(v);
    ES_TRY(get_uint("grpc", 65535, v));
    r.grpc = static_cast<uint16_t>(v);
    ES_TRY(get_uint("native", 65535, v));
    r.native = static_cast<uint16_t>(v);
    ES_TRY(get_uint("cluster", 65535, v));
    r.cluster = static_cast<uint16_t>(v);
    ES_TRY(get_uint("pid", 0x7fffffffffffffffull, v));
    r.pid = static_cast<int64_t>(v);
    const auto bind = doc.find("bind");
    if (bind == doc.end() || !bind->is_string()) {
        return make_error(errc::invalid_argument, path + ": field 'bind' is missing");
    }
    r.bind = bind->get<std::string>();
    return r;
}

}  // namespace es::server
