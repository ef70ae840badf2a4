// The line formats of esctl produce and consume (line_format.h).
#include "cli/line_format.h"

#include <nlohmann/json.hpp>

namespace es::cli {

using eventstream::error;
using eventstream::error_code;

eventstream::result<eventstream::event> parse_raw_line(const std::string& line,
                                                       const std::string& separator) {
    eventstream::event e;
    const auto at = separator.empty() ? std::string::npos : line.find(separator);
    if (at == std::string::npos) {
        e.value = line;
    } else {
        e.key = line.substr(0, at);
        e.value = line.substr(at + separator.size());
    }
    return e;
}

eventstream::result<eventstream::event> parse_json_line(const std::string& line) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
        return error{error_code::invalid_argument, "not a JSON object"};
    eventstream::event e;
    if (auto k = j.find("key"); k != j.end() && !k->is_null()) {
        if (!k->is_string()) return error{error_code::invalid_argument, "\"key\" must be a string"};
        e.key = k->get<std::string>();
    }
    if (auto v = j.find("value"); v != j.end()) {
        e.value = v->is_string() ? v->get<std::string>() : v->dump();
    } else {
        return error{error_code::invalid_argument, "\"value\" is missing"};
    }
    if (auto h = j.find("headers"); h != j.end() && !h->is_null()) {
        if (!h->is_object())
            return error{error_code::invalid_argument, "\"headers\" must be an object"};
        for (const auto& [name, value] : h->items()) {
            if (!value.is_string())
                return error{error_code::invalid_argument,
                             "header \"" + name + "\" must be a string"};
            e.headers.push_back({name, value.get<std::string>()});
        }
    }
    if (auto t = j.find("timestamp"); t != j.end() && !t->is_null()) {
        if (!t->is_number_integer())
            return error{error_code::invalid_argument, "\"timestamp\" must be Unix ns"};
        e.timestamp_ns = t->get<int64_t>();
    }
    return e;
}

std::string record_json(const eventstream::consumer_record& r) {
    nlohmann::json j;
    j["partition"] = r.partition;
    if (r.kind == eventstream::record_kind::gap) {
        j["gap_first"] = r.gap_first;
        j["gap_last"] = r.gap_last;
    } else {
        j["offset"] = r.offset;
        j["timestamp"] = r.timestamp_ns;
        j["key"] = r.key ? nlohmann::json(*r.key) : nlohmann::json(nullptr);
        nlohmann::json headers = nlohmann::json::object();
        for (const auto& h : r.headers) headers[h.name] = h.value;
        j["headers"] = headers;
        j["value"] = r.value;
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string record_raw(const eventstream::consumer_record& r, const std::string& separator) {
    if (!separator.empty() && r.key) return *r.key + separator + r.value;
    return r.value;
}

}  // namespace es::cli
