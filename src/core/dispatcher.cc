// Routing and batching of published events.
#include "core/dispatcher.h"

#include <thread>

#include "common/clock.h"
#include "common/hash.h"

namespace es::core {
namespace {

// Per publishing thread: the partition of each event and the group of each partition, kept
// between calls so that routing allocates nothing once warm.
struct routing_scratch {
    std::vector<uint32_t> partition_of;
    std::vector<int32_t> group_of;  // by partition; -1 when the call has none for it
};

thread_local routing_scratch scratch;

}  // namespace

dispatcher::dispatcher(std::span<const std::unique_ptr<worker>> workers, dispatcher_options options)
    : workers_(workers), options_(options) {}

void dispatcher::close() {
    open_.store(false, std::memory_order_seq_cst);
    while (in_flight_.load(std::memory_order_seq_cst) != 0)
        std::this_thread::yield();
}

bool dispatcher::enqueue(const topic_ptr& t, uint32_t partition,
                         std::unique_ptr<event_batch>& batch, const publish_options& options,
                         int64_t deadline_ns) {
    worker& w = *workers_[t->owner_worker[partition]];
    if (w.try_enqueue(batch))
        return true;
    if (options.on_full == backpressure::fail)
        return false;
    for (unsigned attempt = 0;; ++attempt) {
        if (attempt < 64) {
            cpu_relax();
        } else if (attempt < 128) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        if (w.try_enqueue(batch))
            return true;
        if (deadline_ns && monotonic_ns() >= deadline_ns)
            return false;
    }
}

result<publish_summary> dispatcher::publish(const topic_ptr& t, std::span<const event_in> events,
                                            const publish_options& options,
                                            publish_completion done) {
    // in_flight_ before open_: close() sets open_ and then waits for in_flight_, so a call
    // that gets past this check is always waited for.
    in_flight_.fetch_add(1, std::memory_order_seq_cst);
    struct leave {
        std::atomic<int64_t>& n;
        ~leave() { n.fetch_sub(1, std::memory_order_release); }
    } leave_guard{in_flight_};
    if (!open_.load(std::memory_order_seq_cst)) {
        return make_error(errc::shutting_down, "the node is shutting down");
    }
    const topic& tp = *t;
    if (tp.deleted.load(std::memory_order_acquire)) {
        return make_error(errc::not_found, "topic '" + tp.config.name + "' was deleted");
    }
    if (events.empty())
        return make_error(errc::invalid_argument, "publish holds no events");
    if (events.size() > options_.events_per_publish_max) {
        return make_error(errc::too_large, "publish holds " + std::to_string(events.size()) +
                                               " events; the limit is " +
                                               std::to_string(options_.events_per_publish_max));
    }
    const auto partitions = static_cast<uint32_t>(tp.partitions.size());
    if (options.partition && *options.partition >= partitions) {
        return make_error(errc::not_found, "topic '" + tp.config.name + "' has no partition " +
                                               std::to_string(*options.partition));
    }

    // Validate and route every event before queuing any, so that a bad event refuses the
    // whole call rather than half of it.
    auto& part_of = scratch.partition_of;
    part_of.resize(events.size());
    uint32_t unkeyed = options.partition.value_or(UINT32_MAX);
    bool single = true;
    for (size_t i = 0; i < events.size(); ++i) {
        const event_in& e = events[i];
        if (auto s = validate_event(e, tp.config.max_event_bytes); !s) {
            return make_error(s.err().code, "event " + std::to_string(i) + ": " + s.err().message);
        }
        uint32_t p;
        if (options.partition) {
            p = *options.partition;
        } else if (e.has_key) {
            p = static_cast<uint32_t>(stable_hash(e.key) % partitions);
        } else {
            if (unkeyed == UINT32_MAX) {
                unkeyed = static_cast<uint32_t>(
                    t->round_robin.fetch_add(1, std::memory_order_relaxed) % partitions);
            }
            p = unkeyed;
        }
        part_of[i] = p;
        single &= (p == part_of[0]);
    }

    // Group the events by partition, in order of first appearance.
    std::vector<group> groups_storage;
    group one{part_of[0], 0, 0};
    std::span<group> groups(&one, 1);
    if (single) {
        for (const auto& e : events)
            one.bytes += encoded_size(e);
        one.events = static_cast<uint32_t>(events.size());
    } else {
        auto& group_of = scratch.group_of;
        if (group_of.size() < partitions)
            group_of.resize(partitions, -1);
        for (size_t i = 0; i < events.size(); ++i) {
            int32_t& g = group_of[part_of[i]];
            if (g < 0) {
                g = static_cast<int32_t>(groups_storage.size());
                groups_storage.push_back({part_of[i], 0, 0});
            }
            groups_storage[g].events++;
            groups_storage[g].bytes += encoded_size(events[i]);
        }
        for (const auto& g : groups_storage)
            group_of[g.partition] = -1;
        groups = groups_storage;
    }

    const int64_t deadline =
        options.block_timeout_ns > 0 ? monotonic_ns() + options.block_timeout_ns : 0;
    publish_summary summary;
    for (const group& g : groups) {
        size_t i = 0;  // next event of this group to place (scan from the start)
        uint32_t left = g.events;
        size_t bytes_left = g.bytes;
        while (left > 0) {
            while (part_of[i] != g.partition)
                ++i;
            // Room for the rest of the group, split at batch_bytes_max, but always room for
            // the next event whatever its size.
            const size_t next = encoded_size(events[i]);
            auto batch =
                event_batch::create(std::min(bytes_left, std::max(options_.batch_bytes_max, next)));
            for (; i < events.size() && left > 0; ++i) {
                if (part_of[i] != g.partition)
                    continue;
                if (!batch->append(events[i]))
                    break;
                --left;
                bytes_left -= encoded_size(events[i]);
            }
            const uint32_t count = batch->count();
            batch->target_topic = t;
            batch->target = tp.partitions[g.partition].get();
            batch->partition = g.partition;
            batch->completion = done;
            if (enqueue(t, g.partition, batch, options, deadline)) {
                summary.batches_queued++;
                summary.events_queued += count;
            } else {
                summary.events_refused += count;
            }
        }
    }
    if (summary.events_queued == 0) {
        if (options.on_full == backpressure::block) {
            return make_error(errc::timed_out,
                              "no room in the partition's queue before the "
                              "block timeout");
        }
        return make_error(errc::queue_full,
                          "the partition's ingest queue is full; retry after a short back-off");
    }
    return summary;
}

}  // namespace es::core
