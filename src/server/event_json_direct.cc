// The direct decoder for one plain publish event (see event_json_direct.h).
#include "server/event_json_direct.h"

#include <utility>

#include "server/base64.h"
#include "server/rest_limits.h"

namespace es::server {
namespace {

// Reads JSON text from the front of `rest_`; every method returns false, leaving its position
// unspecified, on anything the direct path does not take.
class scanner {
  public:
    explicit scanner(std::string_view text) : rest_(text) {}

    void skip_space() {
        size_t i = 0;
        while (i < rest_.size() &&
               (rest_[i] == ' ' || rest_[i] == '\t' || rest_[i] == '\n' || rest_[i] == '\r')) {
            ++i;
        }
        rest_.remove_prefix(i);
    }

    bool at_end() const { return rest_.empty(); }

    // Takes `c` (after any white space).
    bool take(char c) {
        skip_space();
        if (rest_.empty() || rest_.front() != c) return false;
        rest_.remove_prefix(1);
        return true;
    }

    bool peek(char c) {
        skip_space();
        return !rest_.empty() && rest_.front() == c;
    }

    // A string of printable ASCII without escapes; `text` gets its content. Such a string reads
    // as itself and nlohmann writes it back unchanged.
    bool plain_string(std::string_view& text) {
        if (!take('"')) return false;
        size_t i = 0;
        while (i < rest_.size()) {
            const char c = rest_[i];
            if (c == '"') break;
            if (c == '\\' || c < 0x20 || c > 0x7e) return false;
            ++i;
        }
        if (i == rest_.size()) return false;
        text = rest_.substr(0, i);
        rest_.remove_prefix(i + 1);
        return true;
    }

    // A value whose compact JSON text nlohmann would write as it is read (white space dropped):
    // plain strings, integers of at most 18 digits (never "-0"), true, false, null, arrays of
    // such values, and objects of them with keys in strictly ascending order (nlohmann keeps
    // object members sorted). Appends that text to `out`. `depth` counts the enclosing arrays
    // and objects.
    bool canonical_value(std::string& out, size_t depth) {
        skip_space();
        if (rest_.empty()) return false;
        const char c = rest_.front();
        if (c == '"') {
            std::string_view s;
            if (!plain_string(s)) return false;
            out += '"';
            out += s;
            out += '"';
            return true;
        }
        if (c == '{' || c == '[') {
            if (depth + 1 > k_json_depth_max) return false;
            return c == '{' ? canonical_object(out, depth + 1) : canonical_array(out, depth + 1);
        }
        if (c == '-' || (c >= '0' && c <= '9')) return integer(out);
        for (const std::string_view word : {"true", "false", "null"}) {
            if (rest_.starts_with(word)) {
                rest_.remove_prefix(word.size());
                // "truex" is not JSON; let the full parser say so.
                if (!rest_.empty() && is_word_char(rest_.front())) return false;
                out += word;
                return true;
            }
        }
        return false;
    }

  private:
    static bool is_word_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    bool integer(std::string& out) {
        size_t i = 0;
        if (rest_[0] == '-') ++i;
        const size_t first_digit = i;
        while (i < rest_.size() && rest_[i] >= '0' && rest_[i] <= '9') ++i;
        const size_t digits = i - first_digit;
        if (digits == 0 || digits > 18) return false;
        // A leading zero (JSON allows only "0" itself) or "-0", which nlohmann writes as "0".
        if (rest_[first_digit] == '0' && (digits > 1 || first_digit == 1)) return false;
        // A fraction or exponent makes it a double, written back in another form.
        if (i < rest_.size() && (rest_[i] == '.' || rest_[i] == 'e' || rest_[i] == 'E')) {
            return false;
        }
        out += rest_.substr(0, i);
        rest_.remove_prefix(i);
        return true;
    }

    bool canonical_object(std::string& out, size_t depth) {
        take('{');
        out += '{';
        if (take('}')) {
            out += '}';
            return true;
        }
        std::string_view previous;
        for (bool first = true;; first = false) {
            std::string_view name;
            if (!plain_string(name)) return false;
            if (!first && !(previous < name)) return false;  // unsorted or repeated
            previous = name;
            if (!take(':')) return false;
            if (!first) out += ',';
            out += '"';
            out += name;
            out += "\":";
            if (!canonical_value(out, depth)) return false;
            if (take('}')) break;
            if (!take(',')) return false;
        }
        out += '}';
        return true;
    }

    bool canonical_array(std::string& out, size_t depth) {
        take('[');
        out += '[';
        if (take(']')) {
            out += ']';
            return true;
        }
        for (bool first = true;; first = false) {
            if (!first) out += ',';
            if (!canonical_value(out, depth)) return false;
            if (take(']')) break;
            if (!take(',')) return false;
        }
        out += ']';
        return true;
    }

    std::string_view rest_;
};

}  // namespace

std::optional<decoded_publish> decode_publish_direct(std::string_view body) {
    scanner in(body);
    if (!in.take('{')) return std::nullopt;
    bool has_topic = false;
    bool has_payload = false;
    bool has_key = false;
    bool has_encoding = false;
    std::string_view topic;
    std::string_view key;  // data() null: "key": null
    std::string payload;   // compact JSON text
    std::string_view payload_string;
    bool payload_is_string = false;
    bool base64 = false;
    if (in.peek('}')) return std::nullopt;  // no topic: the full decoder says so
    do {
        std::string_view name;
        if (!in.plain_string(name) || !in.take(':')) return std::nullopt;
        if (name == "topic" && !has_topic) {
            has_topic = true;
            if (!in.plain_string(topic)) return std::nullopt;
        } else if (name == "payload" && !has_payload) {
            has_payload = true;
            payload_is_string = in.peek('"');
            if (payload_is_string) {
                if (!in.plain_string(payload_string)) return std::nullopt;
            } else if (!in.canonical_value(payload, 1)) {
                return std::nullopt;
            }
        } else if (name == "key" && !has_key) {
            has_key = true;
            if (in.peek('"')) {
                if (!in.plain_string(key)) return std::nullopt;
            } else {
                std::string null;
                if (!in.canonical_value(null, 1) || null != "null") return std::nullopt;
            }
        } else if (name == "encoding" && !has_encoding) {
            has_encoding = true;
            std::string_view e;
            if (!in.plain_string(e) || (e != "json" && e != "base64")) return std::nullopt;
            base64 = e == "base64";
        } else {
            return std::nullopt;  // another field, or one given twice
        }
    } while (in.take(','));
    if (!in.take('}')) return std::nullopt;
    in.skip_space();
    if (!in.at_end() || !has_topic || !has_payload) return std::nullopt;

    decoded_event event;
    if (key.data() != nullptr) event.key = std::string(key);
    if (base64) {
        if (!payload_is_string) return std::nullopt;
        auto bytes = base64_decode(payload_string);
        if (!bytes) return std::nullopt;
        event.payload = std::move(*bytes);
    } else if (payload_is_string) {
        event.payload.reserve(payload_string.size() + 2);
        event.payload += '"';
        event.payload += payload_string;
        event.payload += '"';
    } else {
        event.payload = std::move(payload);
    }
    decoded_publish out;
    out.topic = std::string(topic);
    out.events.push_back(std::move(event));
    return out;
}

}  // namespace es::server
