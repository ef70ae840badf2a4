// Prometheus text filtering and parsing for QueryMetrics.
#include "server/grpc_metrics_text.h"

#include <cstdlib>

namespace es::server {
namespace {

// The metric name a line is about: after "# HELP " / "# TYPE ", or at the start of a sample.
std::string_view name_of(std::string_view line) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) line.remove_prefix(7);
    const size_t end = line.find_first_of(" {");
    return line.substr(0, end);
}

bool wanted(std::string_view name, const std::vector<std::string>& prefixes) {
    if (prefixes.empty()) return true;
    for (const auto& p : prefixes) {
        if (name.starts_with(p)) return true;
    }
    return false;
}

// Reads `"value"` at the front of s (with \\, \" and \n escapes); advances s past it.
bool read_quoted(std::string_view& s, std::string& out) {
    if (s.empty() || s.front() != '"') return false;
    s.remove_prefix(1);
    out.clear();
    while (!s.empty()) {
        const char c = s.front();
        s.remove_prefix(1);
        if (c == '"') return true;
        if (c == '\\' && !s.empty()) {
            const char e = s.front();
            s.remove_prefix(1);
            out.push_back(e == 'n' ? '\n' : e);
        } else {
            out.push_back(c);
        }
    }
    return false;
}

}  // namespace

std::string filter_metrics_text(std::string_view text, const std::vector<std::string>& prefixes) {
    std::string out;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty()) continue;
        if (wanted(name_of(line), prefixes)) {
            out.append(line);
            out.push_back('\n');
        }
    }
    return out;
}

std::vector<metric_sample> parse_metrics_text(std::string_view text) {
    std::vector<metric_sample> out;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty() || line.front() == '#') continue;
        metric_sample s;
        const size_t name_end = line.find_first_of(" {");
        if (name_end == std::string_view::npos) continue;
        s.name = std::string(line.substr(0, name_end));
        line.remove_prefix(name_end);
        bool ok = true;
        if (!line.empty() && line.front() == '{') {
            line.remove_prefix(1);
            while (ok && !line.empty() && line.front() != '}') {
                const size_t eq = line.find('=');
                if (eq == std::string_view::npos) {
                    ok = false;
                    break;
                }
                std::string key(line.substr(0, eq));
                line.remove_prefix(eq + 1);
                std::string value;
                ok = read_quoted(line, value);
                s.labels[std::move(key)] = std::move(value);
                if (!line.empty() && line.front() == ',') line.remove_prefix(1);
            }
            if (!ok || line.empty()) continue;
            line.remove_prefix(1);  // '}'
        }
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        const std::string number(line.substr(0, line.find(' ')));
        char* end = nullptr;
        s.value = std::strtod(number.c_str(), &end);
        if (end == number.c_str()) continue;
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace es::server
