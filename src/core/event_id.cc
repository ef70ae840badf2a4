// Event ids: "<topic>.<partition>.<offset>".
#include "core/event_id.h"

#include <charconv>

#include "core/topic.h"

namespace es::core {

std::string format_event_id(std::string_view topic, uint32_t partition, uint64_t offset) {
    std::string id(topic);
    id += '.';
    id += std::to_string(partition);
    id += '.';
    id += std::to_string(offset);
    return id;
}

namespace {

// A decimal number with no sign, no leading zero (but "0") and no other character, so that
// every event has exactly one id.
template <class T>
bool parse_decimal(std::string_view text, T& out) {
    if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

result<event_id> parse_event_id(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return make_error(errc::invalid_argument, "event id '" + std::string(text) + "' " +
                                                      std::string(why) +
                                                      "; the form is <topic>.<partition>.<offset>");
    };
    // Topic names may contain '.', so the numbers are the last two fields.
    const size_t last_dot = text.rfind('.');
    if (last_dot == std::string_view::npos || last_dot == 0) return bad("has too few fields");
    const size_t middle_dot = text.rfind('.', last_dot - 1);
    if (middle_dot == std::string_view::npos) return bad("has too few fields");
    event_id id;
    if (!parse_decimal(text.substr(middle_dot + 1, last_dot - middle_dot - 1), id.partition)) {
        return bad("has no valid partition (a decimal number up to 4294967295)");
    }
    if (!parse_decimal(text.substr(last_dot + 1), id.offset)) {
        return bad("has no valid offset (a decimal number up to 18446744073709551615)");
    }
    const std::string_view topic = text.substr(0, middle_dot);
    if (auto valid = validate_topic_name(topic); !valid) {
        return bad("has an invalid topic: " + valid.err().message);
    }
    id.topic = std::string(topic);
    return id;
}

}  // namespace es::core
