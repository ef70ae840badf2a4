// Registration, removal and traversal of metric families for registry.h.
#include "metrics/registry.h"

#include <algorithm>
#include <utility>

namespace es::metrics {
namespace {

// Suffixes of the extra sample names that a histogram family exports.
constexpr std::string_view histogram_suffixes[] = {"_bucket", "_sum", "_count"};

error bad(std::string message) {
    return make_error(errc::invalid_argument, std::move(message));
}

std::string quoted(std::string_view s) {
    // Built by appends: `"'" + std::string(s)` trips GCC 12's false -Wrestrict (PR 105329).
    std::string q;
    q.reserve(s.size() + 2);
    q += '\'';
    q += s;
    q += '\'';
    return q;
}

// Checks a series' labels and sorts them by name.
status canonicalize(label_set& labels, metric_type type) {
    if (labels.size() > max_labels_per_series) {
        return bad("a series may have at most " + std::to_string(max_labels_per_series) +
                   " labels, got " + std::to_string(labels.size()));
    }
    for (const label& l : labels) {
        if (l.name.size() > max_label_name_bytes || !is_valid_label_name(l.name)) {
            return bad("bad label name " + quoted(l.name) +
                       ": want [a-zA-Z_][a-zA-Z0-9_]*, not starting with __");
        }
        if (type == metric_type::histogram && l.name == "le") {
            return bad("label name 'le' is reserved for histogram buckets");
        }
        if (l.value.size() > max_label_value_bytes) {
            return bad("value of label " + quoted(l.name) + " is longer than " +
                       std::to_string(max_label_value_bytes) + " bytes");
        }
    }
    std::sort(labels.begin(), labels.end());
    for (std::size_t i = 1; i < labels.size(); ++i) {
        if (labels[i].name == labels[i - 1].name) {
            return bad("label " + quoted(labels[i].name) + " is given twice");
        }
    }
    return {};
}

template <class T>
result<std::shared_ptr<T>> unwrap(auto&& r) {
    if (!r) {
        return std::move(r).err();
    }
    return std::get<std::shared_ptr<T>>(std::move(r).value());
}

}  // namespace

const char* metric_type_name(metric_type type) noexcept {
    switch (type) {
        case metric_type::counter:
            return "counter";
        case metric_type::gauge:
            return "gauge";
        case metric_type::double_gauge:
            return "double_gauge";
        case metric_type::histogram:
            return "histogram";
    }
    return "unknown";
}

registry::registry(registry_options options) : options_(options) {}

registry::~registry() = default;

result<std::shared_ptr<counter>> registry::add_counter(std::string_view name, std::string_view help,
                                                       label_set labels) {
    return unwrap<counter>(add(name, help, metric_type::counter, std::move(labels), {}));
}

result<std::shared_ptr<gauge>> registry::add_gauge(std::string_view name, std::string_view help,
                                                   label_set labels) {
    return unwrap<gauge>(add(name, help, metric_type::gauge, std::move(labels), {}));
}

result<std::shared_ptr<double_gauge>> registry::add_double_gauge(std::string_view name,
                                                                 std::string_view help,
                                                                 label_set labels) {
    return unwrap<double_gauge>(add(name, help, metric_type::double_gauge, std::move(labels), {}));
}

result<std::shared_ptr<histogram>> registry::add_histogram(std::string_view name,
                                                           std::string_view help, label_set labels,
                                                           const histogram_options& options) {
    return unwrap<histogram>(add(name, help, metric_type::histogram, std::move(labels), options));
}

result<registry::metric_ptr> registry::add(std::string_view name, std::string_view help,
                                           metric_type type, label_set labels,
                                           const histogram_options& options) {
    // Everything that needs no shared state is checked before taking the lock.
    if (name.size() > max_metric_name_bytes || !is_valid_metric_name(name)) {
        return bad("bad metric name " + quoted(name) + ": want [a-zA-Z_:][a-zA-Z0-9_:]*, at most " +
                   std::to_string(max_metric_name_bytes) + " bytes");
    }
    if (type == metric_type::counter && !name.ends_with("_total")) {
        return bad("counter name " + quoted(name) + " must end in _total");
    }
    if (help.size() > max_help_bytes) {
        return bad("help of " + quoted(name) + " is longer than " + std::to_string(max_help_bytes) +
                   " bytes");
    }
    if (type == metric_type::histogram) {
        ES_TRY(validate(options));
    }
    ES_TRY(canonicalize(labels, type));

    std::lock_guard lock(mutex_);
    auto it = families_.find(name);
    if (it == families_.end()) {
        ES_TRY(check_no_clash(name, type));
        family f{std::string(help),
                 type,
                 type == metric_type::histogram ? options : histogram_options{},
                 {}};
        it = families_.emplace(std::string(name), std::move(f)).first;
    } else {
        const family& f = it->second;
        if (f.type != type) {
            return make_error(errc::already_exists, "metric " + quoted(name) +
                                                        " is already registered as a " +
                                                        metric_type_name(f.type));
        }
        if (f.help != help) {
            return make_error(errc::already_exists,
                              "metric " + quoted(name) + " is already registered with other help");
        }
        if (type == metric_type::histogram && !(f.histogram == options)) {
            return make_error(
                errc::already_exists,
                "histogram " + quoted(name) + " is already registered with other options");
        }
    }

    auto& series = it->second.series;
    if (auto s = series.find(labels); s != series.end()) {
        return s->second;
    }
    if (series_count_ >= options_.series_max) {
        return make_error(errc::too_large, "the metrics registry is full (" +
                                               std::to_string(options_.series_max) + " series)");
    }
    metric_ptr m;
    switch (type) {
        case metric_type::counter:
            m = std::make_shared<counter>();
            break;
        case metric_type::gauge:
            m = std::make_shared<gauge>();
            break;
        case metric_type::double_gauge:
            m = std::make_shared<double_gauge>();
            break;
        case metric_type::histogram:
            m = std::make_shared<histogram>();
            break;
    }
    series.emplace(std::move(labels), m);
    ++series_count_;
    return m;
}

status registry::check_no_clash(std::string_view name, metric_type type) const {
    for (std::string_view suffix : histogram_suffixes) {
        if (type == metric_type::histogram) {
            const std::string derived = std::string(name) + std::string(suffix);
            if (families_.contains(derived)) {
                return make_error(errc::already_exists, "histogram " + quoted(name) +
                                                            " would export " + quoted(derived) +
                                                            ", which is already registered");
            }
        }
        if (name.ends_with(suffix)) {
            auto stem = families_.find(name.substr(0, name.size() - suffix.size()));
            if (stem != families_.end() && stem->second.type == metric_type::histogram) {
                return make_error(
                    errc::already_exists,
                    "metric " + quoted(name) + " clashes with histogram " + quoted(stem->first));
            }
        }
    }
    return {};
}

status registry::remove(std::string_view name, label_set labels) {
    std::sort(labels.begin(), labels.end());
    std::lock_guard lock(mutex_);
    auto it = families_.find(name);
    if (it == families_.end() || it->second.series.erase(labels) == 0) {
        return make_error(errc::not_found, "no series " + quoted(name) + " with these labels");
    }
    --series_count_;
    return {};
}

std::size_t registry::series_count() const {
    std::lock_guard lock(mutex_);
    return series_count_;
}

void registry::visit(registry_visitor& visitor) const {
    std::lock_guard lock(mutex_);
    for (const auto& [name, f] : families_) {
        if (f.series.empty()) {
            continue;
        }
        const family_info info{name, f.help, f.type, f.histogram};
        visitor.on_family(info);
        for (const auto& [labels, m] : f.series) {
            const series_info s{
                labels,
                std::visit([](const auto& p) -> decltype(series_info::metric) { return p.get(); },
                           m)};
            visitor.on_series(info, s);
        }
    }
}

}  // namespace es::metrics
