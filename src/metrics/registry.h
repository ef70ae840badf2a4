// registry: the named metric families of a node (name, help, type, labelled series), the
// control-plane side of metrics. Registration and export take a mutex; the hot path keeps the
// returned pointer and never touches the registry.
#pragma once

#include <compare>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "metrics/counter.h"
#include "metrics/gauge.h"
#include "metrics/histogram.h"
#include "metrics/histogram_options.h"
#include "metrics/names.h"

namespace es::metrics {

enum class metric_type { counter, gauge, double_gauge, histogram };

// "counter", "gauge", "double_gauge", "histogram".
const char* metric_type_name(metric_type type) noexcept;

struct label {
    std::string name;
    std::string value;

    auto operator<=>(const label&) const = default;
};

// A series' labels, e.g. {{"topic", "orders"}, {"partition", "3"}}. Order does not matter: the
// registry keeps them sorted by name, as Prometheus treats them as a set.
using label_set = std::vector<label>;

struct registry_options {
    // Series (distinct name + labels) the registry accepts in all; more give too_large. A bound
    // on memory when label values come from outside (one series per topic).
    std::size_t series_max = 100'000;
};

// What registry::visit shows of a family. Valid only during the callback.
struct family_info {
    std::string_view name;
    std::string_view help;
    metric_type type;
    const histogram_options& histogram;  // meaningful for histograms only
};

// What registry::visit shows of a series. Valid only during the callback.
struct series_info {
    const label_set& labels;  // sorted by name
    std::variant<const counter*, const gauge*, const double_gauge*, const histogram*> metric;
};

class registry_visitor {
  public:
    virtual ~registry_visitor() = default;
    virtual void on_family(const family_info& family) = 0;
    virtual void on_series(const family_info& family, const series_info& series) = 0;
};

// Errors are values (result), not asserts, because names and label values may come from
// configuration or from clients (topic names):
//   invalid_argument  bad metric or label name, a counter name without the _total suffix,
//                     a limit of names.h crossed, bad histogram_options
//   already_exists    the name is taken by another type, or with other help text or
//                     histogram_options, or clashes with a histogram's _bucket/_sum/_count
//   too_large         registry_options::series_max reached
// Counter names must end in "_total" (Prometheus convention): the name registered is the name
// exported, so what is grepped in the code is what is seen in /metrics.
//
// Registering an identical series (same name, type, help, labels) again returns the existing
// metric. Metrics are shared_ptrs: the hot path holds one, so remove() never leaves it dangling
// (a removed series simply stops being exported). All methods may be called from any thread.
class registry {
  public:
    explicit registry(registry_options options = {});
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    [[nodiscard]] result<std::shared_ptr<counter>> add_counter(std::string_view name,
                                                               std::string_view help,
                                                               label_set labels = {});
    [[nodiscard]] result<std::shared_ptr<gauge>> add_gauge(std::string_view name,
                                                           std::string_view help,
                                                           label_set labels = {});
    [[nodiscard]] result<std::shared_ptr<double_gauge>> add_double_gauge(std::string_view name,
                                                                         std::string_view help,
                                                                         label_set labels = {});
    [[nodiscard]] result<std::shared_ptr<histogram>> add_histogram(
        std::string_view name, std::string_view help, label_set labels = {},
        const histogram_options& options = {});

    // Stops exporting one series (e.g. of a deleted topic). The family keeps its type and help,
    // so that the name cannot change type later. not_found if there is no such series.
    status remove(std::string_view name, label_set labels);

    // Series registered, over all families.
    std::size_t series_count() const;

    // Calls visitor.on_family for each family that has series, in name order, each followed
    // by on_series for its series in label order. Holds the registry's mutex throughout: the
    // visitor must not call back into this registry.
    void visit(registry_visitor& visitor) const;

  private:
    using metric_ptr = std::variant<std::shared_ptr<counter>, std::shared_ptr<gauge>,
                                    std::shared_ptr<double_gauge>, std::shared_ptr<histogram>>;

    struct family {
        std::string help;
        metric_type type;
        histogram_options histogram;
        std::map<label_set, metric_ptr> series;
    };

    result<metric_ptr> add(std::string_view name, std::string_view help, metric_type type,
                           label_set labels, const histogram_options& options);
    // already_exists if the exported sample names of a new family `name` would collide with
    // those of an existing one. REQUIRES: mutex_ held.
    status check_no_clash(std::string_view name, metric_type type) const;

    // Constant after construction.
    const registry_options options_;

    mutable std::mutex mutex_;
    std::map<std::string, family, std::less<>> families_;  // guarded by mutex_
    std::size_t series_count_ = 0;                         // guarded by mutex_
};

}  // namespace es::metrics
