// Atomic write and checked read of ports.json.
#include "server/ports_file.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>

#include "common/file_io.h"

namespace es::server {

std::string ports_file_path(const std::string& data_dir) {
    return (std::filesystem::path(data_dir) / ports_file_name).string();
}

status write_ports_file(const std::string& data_dir, const ports_record& r) {
    const nlohmann::json doc = {
        {"node_id", r.node_id}, {"bind", r.bind},       {"http", r.http}, {"grpc", r.grpc},
        {"native", r.native},   {"cluster", r.cluster}, {"pid", r.pid}};
    const std::string text = doc.dump() + "\n";
    // One temporary name per process: two writers never share a temporary file.
    const std::string tmp_suffix = ".tmp." + std::to_string(::getpid());
    return replace_file(ports_file_path(data_dir),
                        std::as_bytes(std::span<const char>(text.data(), text.size())), tmp_suffix);
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
