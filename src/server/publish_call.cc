// Gathering a publish's batch completions, and mapping events to offsets.
#include "server/publish_call.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "common/hash.h"

namespace es::server {
namespace {

// Lives from the publish call until the last of its completions. `remaining` starts at 0; each
// completion subtracts 1 and the publisher adds the number of queued batches once publish
// returns. Whoever brings it back to 0 (it goes negative first if completions come early, so
// it reaches 0 exactly once) owns the state and finishes the call.
struct pending_publish {
    std::atomic<int64_t> remaining{0};
    std::mutex mutex;
    std::vector<core::publish_outcome> outcomes;  // guarded by mutex
    core::publish_summary summary;                // written by the publisher before it adds
    publish_done done;

    void finish() {
        publish_report report;
        report.summary = summary;
        report.outcomes = std::move(outcomes);
        done(std::move(report));
    }

    static void on_batch(void* context, const core::publish_outcome& o) {
        auto* self = static_cast<pending_publish*>(context);
        {
            std::lock_guard lock(self->mutex);
            if (o.code == errc::ok && o.duplicate_head > 0) {
                // Answered as two batches, as every caller of publish() reads them: the
                // duplicate head, then the events appended after it.
                core::publish_outcome head = o;
                head.count = o.duplicate_head;
                head.duplicate = true;
                head.known_offset = o.head_known_offset;
                head.base_offset = o.head_base_offset;
                head.duplicate_head = 0;
                core::publish_outcome tail = o;
                tail.count = o.count - o.duplicate_head;
                tail.duplicate_head = 0;
                self->outcomes.push_back(head);
                self->outcomes.push_back(tail);
            } else {
                self->outcomes.push_back(o);
            }
        }
        if (self->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::unique_ptr<pending_publish> owned(self);
            owned->finish();
        }
    }
};

}  // namespace

result<acks_mode> parse_acks(std::string_view text) {
    if (text == "0" || text == "none") return acks_mode::none;
    if (text == "1" || text == "leader") return acks_mode::leader;
    if (text == "all" || text == "-1") return acks_mode::all;
    return make_error(errc::invalid_argument,
                      "acks must be 0, leader or all, got '" + std::string(text) + "'");
}

const char* acks_name(acks_mode m) noexcept {
    switch (m) {
        case acks_mode::none:
            return "0";
        case acks_mode::leader:
            return "leader";
        case acks_mode::all:
            return "all";
    }
    return "all";
}

void publish_async(core::engine& engine, const core::topic_ptr& t,
                   std::span<const core::event_in> events, acks_mode acks, publish_done done,
                   core::publish_options options) {
    if (auto refused = try_publish_async(engine, t, events, acks, done, options)) {
        done(std::move(*refused));
    }
}

std::optional<error> try_publish_async(core::engine& engine, const core::topic_ptr& t,
                                       std::span<const core::event_in> events, acks_mode acks,
                                       publish_done& done, core::publish_options options) {
    options.on_full = core::backpressure::fail;
    if (acks == acks_mode::none) {
        auto summary = engine.publish(t, events, options);
        if (!summary) {
            if (summary.err().code == errc::queue_full) return std::move(summary).err();
            done(std::move(summary).err());
            return std::nullopt;
        }
        done(publish_report{*summary, {}});
        return std::nullopt;
    }
    auto pending = std::make_unique<pending_publish>();
    auto summary = engine.publish(
        t, events, options, core::publish_completion{&pending_publish::on_batch, pending.get()});
    if (!summary) {
        // Nothing was queued, so no completion will come.
        if (summary.err().code == errc::queue_full) return std::move(summary).err();
        done(std::move(summary).err());
        return std::nullopt;
    }
    pending->done = std::move(done);
    pending->summary = *summary;
    const auto n = static_cast<int64_t>(summary->batches_queued);
    auto* owner = pending.release();  // the completions may finish it from here on
    if (owner->remaining.fetch_add(n, std::memory_order_acq_rel) == -n) {
        std::unique_ptr<pending_publish> owned(owner);
        owned->finish();
    }
    return std::nullopt;
}

std::vector<event_place> place_events(std::span<const core::event_in> events,
                                      uint32_t partition_count,
                                      std::span<const core::publish_outcome> outcomes) {
    std::vector<event_place> places(events.size());
    if (partition_count == 0) return places;
    // The common publish: one event, one batch (what the general walk below gives for it).
    if (events.size() == 1 && outcomes.size() == 1) {
        const auto& o = outcomes.front();
        const bool placed =
            o.code == errc::ok && o.count == 1 &&
            (!events[0].has_key || stable_hash(events[0].key) % partition_count == o.partition);
        if (placed) places[0] = {true, o.partition, o.base_offset};
        if (placed || o.code != errc::ok) return places;
    }
    // Appended offsets per partition, batches in offset order.
    std::map<uint32_t, std::vector<core::publish_outcome>> by_partition;
    for (const auto& o : outcomes) {
        // A refused batch leaves a hole that request order cannot place: tell nothing.
        if (o.code != errc::ok) return places;
        by_partition[o.partition].push_back(o);
    }
    for (auto& [p, list] : by_partition) {
        std::sort(list.begin(), list.end(),
                  [](const auto& a, const auto& b) { return a.base_offset < b.base_offset; });
    }
    // Events with a key per partition; the unkeyed partition is the one that got more.
    std::map<uint32_t, uint64_t> keyed;
    bool any_unkeyed = false;
    for (const auto& e : events) {
        if (e.has_key) {
            ++keyed[static_cast<uint32_t>(stable_hash(e.key) % partition_count)];
        } else {
            any_unkeyed = true;
        }
    }
    std::optional<uint32_t> unkeyed_partition;
    if (any_unkeyed) {
        for (const auto& [p, list] : by_partition) {
            uint64_t got = 0;
            for (const auto& o : list) got += o.count;
            if (got > keyed[p]) unkeyed_partition = p;
        }
    }
    // Walk each partition's offsets in request order.
    std::map<uint32_t, std::pair<size_t, uint32_t>> cursor;  // partition -> (batch, index)
    for (size_t i = 0; i < events.size(); ++i) {
        std::optional<uint32_t> p;
        if (events[i].has_key) {
            p = static_cast<uint32_t>(stable_hash(events[i].key) % partition_count);
        } else {
            p = unkeyed_partition;
        }
        if (!p) continue;
        const auto it = by_partition.find(*p);
        if (it == by_partition.end()) continue;
        auto& [batch, index] = cursor[*p];
        if (batch >= it->second.size()) continue;
        const auto& o = it->second[batch];
        places[i] = {true, *p, o.base_offset + index};
        if (++index == o.count) {
            ++batch;
            index = 0;
        }
    }
    return places;
}

}  // namespace es::server
