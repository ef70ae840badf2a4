// spdlog set-up: text or JSON lines on stderr.
#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <memory>
#include <string>

namespace es {
namespace {

// %* : the log message, escaped as a JSON string body.
class json_message_flag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            const auto u = static_cast<unsigned char>(c);
            switch (c) {
                case '"':
                    dest.append(std::string_view("\\\""));
                    break;
                case '\\':
                    dest.append(std::string_view("\\\\"));
                    break;
                case '\n':
                    dest.append(std::string_view("\\n"));
                    break;
                case '\r':
                    dest.append(std::string_view("\\r"));
                    break;
                case '\t':
                    dest.append(std::string_view("\\t"));
                    break;
                default:
                    if (u < 0x20) {
                        const std::array<char, 6> esc{'\\', 'u',         '0',
                                                      '0',  hex[u >> 4], hex[u & 15]};
                        dest.append(esc.data(), esc.data() + esc.size());
                    } else {
                        dest.push_back(c);
                    }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<json_message_flag>();
    }
};

}  // namespace

bool is_valid_log_level(std::string_view level) noexcept {
    static constexpr std::array<std::string_view, 7> levels{"trace", "debug",    "info", "warn",
                                                            "error", "critical", "off"};
    for (auto l : levels) {
        if (l == level) return true;
    }
    return false;
}

void init_logging(log_format format, std::string_view level) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("eventstream", sink);
    if (format == log_format::json) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc,
                                                                     std::string("\n"));
        formatter->add_flag<json_message_flag>('*').set_pattern(
            R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","thread":%t,"msg":"%*"})");
        logger->set_formatter(std::move(formatter));
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%t] %v");
    }
    logger->set_level(spdlog::level::from_str(std::string(level)));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace es
