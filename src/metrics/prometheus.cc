// Prometheus text format 0.0.4 writer for prometheus.h.
#include "metrics/prometheus.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "common/assert.h"

namespace es::metrics {
namespace {

template <class Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    ES_ASSERT(ec == std::errc{});
    out.append(buf, end);
}

// Shortest text that reads back as the same double, in %g style (0.0001, 1e-07, 1e+06) as Go's
// strconv 'g' writes it, so our values look like those of other exporters.
void append_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
    ES_ASSERT(ec == std::errc{});
    out.append(buf, end);
}

// A value in recorded units, shown in exported units. Exact integers when nothing is divided.
void append_scaled(std::string& out, uint64_t v, double divisor) {
    if (divisor == 1.0) {
        append_int(out, v);
    } else {
        // Division, not multiplication by 1/divisor: with a power-of-ten divisor the quotient
        // is the double nearest the decimal result, so 1000 ns prints as 1e-06, not
        // 1.0000000000000002e-06.
        append_double(out, static_cast<double>(v) / divisor);
    }
}

// HELP text: backslash and newline are escaped.
void append_help(std::string& out, std::string_view help) {
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

// Label values: backslash, double quote and newline are escaped.
void append_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

// `a="x",b="y"` without braces; empty for no labels.
std::string render_labels(const label_set& labels) {
    std::string text;
    for (const label& l : labels) {
        if (!text.empty()) {
            text += ',';
        }
        text += l.name;
        text += "=\"";
        append_label_value(text, l.value);
        text += '"';
    }
    return text;
}

const char* exposition_type(metric_type type) {
    switch (type) {
        case metric_type::counter:
            return "counter";
        case metric_type::gauge:
        case metric_type::double_gauge:
            return "gauge";
        case metric_type::histogram:
            return "histogram";
    }
    return "untyped";
}

class text_writer final : public registry_visitor {
  public:
    explicit text_writer(std::string& out) : out_(out) {}

    void on_family(const family_info& family) override {
        out_ += "# HELP ";
        out_ += family.name;
        out_ += ' ';
        append_help(out_, family.help);
        out_ += "\n# TYPE ";
        out_ += family.name;
        out_ += ' ';
        out_ += exposition_type(family.type);
        out_ += '\n';
        if (family.type == metric_type::histogram) {
            // Bounds and their text are the same for every series of the family.
            bounds_ = le_bounds(family.histogram);
            bound_text_.clear();
            for (uint64_t b : bounds_) {
                std::string t;
                append_scaled(t, b, family.histogram.unit_divisor);
                bound_text_.push_back(std::move(t));
            }
            counts_.resize(bounds_.size());
        }
    }

    void on_series(const family_info& family, const series_info& series) override {
        const std::string labels = render_labels(series.labels);
        if (const auto* c = std::get_if<const counter*>(&series.metric)) {
            sample(family.name, "", labels, [&] { append_int(out_, (*c)->value()); });
        } else if (const auto* g = std::get_if<const gauge*>(&series.metric)) {
            sample(family.name, "", labels, [&] { append_int(out_, (*g)->value()); });
        } else if (const auto* d = std::get_if<const double_gauge*>(&series.metric)) {
            sample(family.name, "", labels, [&] { append_double(out_, (*d)->value()); });
        } else {
            write_histogram(family, labels, *std::get<const histogram*>(series.metric));
        }
    }

  private:
    void write_histogram(const family_info& family, const std::string& labels, const histogram& h) {
        const histogram_snapshot snap = h.snapshot();
        snap.cumulative_counts(bounds_, counts_);
        const std::string prefix = labels.empty() ? std::string() : labels + ",";
        for (std::size_t i = 0; i < bounds_.size(); ++i) {
            sample(family.name, "_bucket", prefix + "le=\"" + bound_text_[i] + "\"",
                   [&] { append_int(out_, counts_[i]); });
        }
        // +Inf, like _count, is the sum of the buckets, so the two always agree.
        sample(family.name, "_bucket", prefix + "le=\"+Inf\"",
               [&] { append_int(out_, snap.count()); });
        sample(family.name, "_sum", labels,
               [&] { append_scaled(out_, snap.sum(), family.histogram.unit_divisor); });
        sample(family.name, "_count", labels, [&] { append_int(out_, snap.count()); });
    }

    template <class F>
    void sample(std::string_view name, std::string_view suffix, std::string_view labels,
                F&& append_value) {
        out_ += name;
        out_ += suffix;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        append_value();
        out_ += '\n';
    }

    std::string& out_;
    // Of the current histogram family.
    std::vector<uint64_t> bounds_;
    std::vector<std::string> bound_text_;
    std::vector<uint64_t> counts_;
};

}  // namespace

void write_prometheus(const registry& reg, std::string& out) {
    text_writer writer(out);
    reg.visit(writer);
}

}  // namespace es::metrics
