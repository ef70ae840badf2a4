// libFuzzer target for what the C++ client and esctl read from outside: the records of an
// EVENTS frame as a server sends them (check_records, then decode_record over each record it
// accepted, then esctl's record_json and record_raw of each), and the lines esctl produce reads
// (parse_json_line, parse_raw_line). The first byte picks which; for records the next 4 bytes
// are the record count and the rest the records.
//
// Checks: nothing throws; check_records refuses with protocol_error and a message, or accepts
// records that decode one after another to exactly the end of the input, with the offset it
// reported last; every decoded record prints as one line of JSON that parses; a JSON line that
// parses holds a value; a raw line splits at the first separator only.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/line_format.h"
#include "client/wire.h"
#include "common/assert.h"
#include "fuzz_util.h"

namespace {

void records(std::string_view input) {
    if (input.size() < 4) return;
    uint32_t count = 0;
    std::memcpy(&count, input.data(), 4);
    count %= 4096;
    const std::string_view recs = input.substr(4);
    auto checked = es::client::check_records(recs, count, 3);
    if (!checked) {
        ES_ASSERT(checked.err().code == eventstream::error_code::protocol_error);
        ES_ASSERT(!checked.err().message.empty());
        return;
    }
    ES_ASSERT(checked->has_value() == (count > 0));
    size_t at = 0;
    eventstream::consumer_record r;
    for (uint32_t i = 0; i < count; ++i) {
        const size_t n = es::client::decode_record(recs, at, "t", 3, r);
        ES_ASSERT(n > 0 && at + n <= recs.size());
        at += n;
        ES_ASSERT(r.partition == 3 && r.topic == "t");
        const auto line = nlohmann::json::parse(es::cli::record_json(r), nullptr, false);
        ES_ASSERT(!line.is_discarded());
        (void)es::cli::record_raw(r, ":");
    }
    ES_ASSERT(at == recs.size());
    if (count > 0) ES_ASSERT(**checked == r.offset);
}

void json_line(std::string_view text) {
    auto e = es::cli::parse_json_line(std::string(text));
    if (!e) {
        ES_ASSERT(e.err().code == eventstream::error_code::invalid_argument);
        ES_ASSERT(!e.err().message.empty());
    }
}

void raw_line(std::string_view text) {
    auto e = es::cli::parse_raw_line(std::string(text), "|");
    ES_ASSERT(e);
    const size_t bar = text.find('|');
    if (bar == std::string_view::npos) {
        ES_ASSERT(!e->key && e->value == text);
    } else {
        ES_ASSERT(e->key && *e->key == text.substr(0, bar) && e->value == text.substr(bar + 1));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
        case 0:
            records(text);
            break;
        case 1:
            json_line(text);
            break;
        default:
            raw_line(text);
            break;
    }
    return 0;
}
