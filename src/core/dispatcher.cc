// Routing and batching of published events.
#include "core/dispatcher.h"

#include <new>
#include <thread>

#include "common/clock.h"
#include "common/hash.h"
#include "core/durable_partition.h"
#include "core/ingest_entry.h"

namespace es::core {
namespace {

// One batch of a partition's events in a publish call.
struct piece {
    size_t first;           // index of its first event
    uint32_t count;         // events
    size_t bytes;           // encoded
    bool borrowed = false;  // its entry holds the events' views (publish_options::borrowed)
};

// Per publishing thread: the partition of each event, the group of each partition and the
// groups' batches, kept between calls so that routing allocates nothing once warm.
struct routing_scratch {
    std::vector<uint32_t> partition_of;
    std::vector<int32_t> group_of;  // by partition; -1 when the call has none for it
    std::vector<piece> pieces;      // every group's batches, group after group
    std::vector<size_t> pieces_of;  // by group: its first piece; then the end
    std::vector<mpsc_byte_ring::claim> claims;
};

thread_local routing_scratch scratch;

}  // namespace

dispatcher::dispatcher(std::span<const std::unique_ptr<worker>> workers,
                       const engine_metrics& metrics, dispatcher_options options)
    : workers_(workers), metrics_(metrics), options_(options) {}

void dispatcher::close() {
    gate_.close();
}

bool dispatcher::claim(worker& w, size_t bytes, mpsc_byte_ring::claim& c,
                       const publish_options& options, int64_t deadline_ns) {
    if (w.try_claim(bytes, c)) return true;
    if (options.on_full == backpressure::fail) return false;
    for (unsigned attempt = 0;; ++attempt) {
        if (attempt < 64) {
            cpu_relax();
        } else if (attempt < 128) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        if (w.try_claim(bytes, c)) return true;
        if (deadline_ns && monotonic_ns() >= deadline_ns) return false;
    }
}

result<publish_summary> dispatcher::publish(const topic_ptr& t, std::span<const event_in> events,
                                            const publish_options& options,
                                            publish_completion done) {
    // Inside the gate for the whole call: close() waits for us, so nothing is queued after
    // the workers have drained.
    if (!gate_.enter()) return make_error(errc::shutting_down, "the node is shutting down");
    struct leave {
        publish_gate& gate;
        ~leave() { gate.leave(); }
    } leave_guard{gate_};
    const topic& tp = *t;
    if (tp.deleted.load(std::memory_order_acquire)) {
        return make_error(errc::not_found, "topic '" + tp.config.name + "' was deleted");
    }
    if (events.empty()) {
        metrics_.publish_invalid->inc();
        return make_error(errc::invalid_argument, "publish holds no events");
    }
    if (events.size() > options_.events_per_publish_max) {
        metrics_.publish_invalid->inc();
        return make_error(errc::too_large, "publish holds " + std::to_string(events.size()) +
                                               " events; the limit is " +
                                               std::to_string(options_.events_per_publish_max));
    }
    const auto partitions = static_cast<uint32_t>(tp.partitions.size());
    if (options.producer_id != 0 && !options.partition) {
        metrics_.publish_invalid->inc();
        return make_error(errc::invalid_argument,
                          "an idempotent publish (producer id set) must name its partition");
    }
    if (options.partition && *options.partition >= partitions) {
        return make_error(errc::not_found, "topic '" + tp.config.name + "' has no partition " +
                                               std::to_string(*options.partition));
    }

    const size_t entry_bytes_max = workers_[0]->max_entry_bytes() - ingest_header_bytes;
    // A batch borrowed (piece::borrowed) holds its events' views in its entry, not their
    // records.
    const auto entry_payload = [](const piece& b) {
        return b.borrowed ? borrowed_events_bytes(b.count) : b.bytes;
    };
    // Validate and route every event before queuing any, so that a bad event refuses the
    // whole call rather than half of it.
    auto& part_of = scratch.partition_of;
    part_of.resize(events.size());
    uint32_t unkeyed = options.partition.value_or(UINT32_MAX);
    bool single = true;
    for (size_t i = 0; i < events.size(); ++i) {
        const event_in& e = events[i];
        if (auto s = validate_event(e, tp.config.max_event_bytes); !s) {
            metrics_.publish_invalid->inc();
            return make_error(s.err().code, "event " + std::to_string(i) + ": " + s.err().message);
        }
        if (encoded_size(e) > entry_bytes_max) {
            metrics_.publish_invalid->inc();
            return make_error(errc::too_large,
                              "event " + std::to_string(i) + " encodes to " +
                                  std::to_string(encoded_size(e)) +
                                  " bytes, more than this node's ingest queue takes in one "
                                  "batch (" +
                                  std::to_string(entry_bytes_max) + "); raise ingest_queue_bytes");
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
    group one{part_of[0], 0};
    std::span<group> groups(&one, 1);
    if (single) {
        one.events = static_cast<uint32_t>(events.size());
    } else {
        auto& group_of = scratch.group_of;
        if (group_of.size() < partitions) group_of.resize(partitions, -1);
        for (size_t i = 0; i < events.size(); ++i) {
            int32_t& g = group_of[part_of[i]];
            if (g < 0) {
                g = static_cast<int32_t>(groups_storage.size());
                groups_storage.push_back({part_of[i], 0});
            }
            groups_storage[g].events++;
        }
        for (const auto& g : groups_storage) group_of[g.partition] = -1;
        groups = groups_storage;
    }

    // Cut each group into batches of up to batch_max bytes of records (always at least one
    // event). A batch is borrowed when the publisher lends its events and their views take no
    // more of the queue than their records would (an event_in is 64 bytes): so a batch never
    // needs more room borrowed than copied, and events that small cost little to copy.
    const bool can_borrow = options.borrowed && done;
    auto& pieces = scratch.pieces;
    auto& pieces_of = scratch.pieces_of;
    pieces.clear();
    pieces_of.clear();
    for (const group& g : groups) {
        const worker& w = *workers_[tp.owner_worker[g.partition]];
        const size_t batch_max =
            std::min(options_.batch_bytes_max, w.max_entry_bytes() - ingest_header_bytes);
        pieces_of.push_back(pieces.size());
        const size_t first = pieces.size();
        for (size_t i = 0, placed = 0; placed < g.events; ++i) {
            if (part_of[i] != g.partition) continue;
            const size_t size = encoded_size(events[i]);
            if (pieces.size() == first || pieces.back().bytes + size > batch_max) {
                pieces.push_back({i, 0, 0});
            }
            pieces.back().count++;
            pieces.back().bytes += size;
            ++placed;
        }
        for (size_t k = first; k < pieces.size(); ++k) {
            pieces[k].borrowed =
                can_borrow && borrowed_events_bytes(pieces[k].count) <= pieces[k].bytes;
        }
        if (options.on_full != backpressure::fail) continue;
        // Without waiting, a group's batches are claimed all at once (below), so they must fit
        // the queue together: on an empty queue they take their entries plus, at most, padding
        // to the ring's end shorter than the largest of them. Counted as records even for
        // batches lent (never larger), so that whether a call is too large does not depend on
        // whether it was lent (a publisher may lend a call, then copy its retry).
        size_t claimed = 0, largest = 0;
        for (size_t k = first; k < pieces.size(); ++k) {
            const size_t entry = mpsc_byte_ring::entry_bytes(ingest_header_bytes + pieces[k].bytes);
            claimed += entry;
            largest = std::max(largest, entry);
        }
        const size_t capacity = w.ingest_capacity();
        if (claimed + largest > capacity) {
            metrics_.publish_invalid->inc();
            return make_error(errc::too_large,
                              "the events for partition " + std::to_string(g.partition) + " take " +
                                  std::to_string(claimed + largest) +
                                  " bytes of this node's ingest queue at once, more than its " +
                                  std::to_string(capacity) +
                                  "; publish fewer at a time or raise ingest_queue_bytes");
        }
    }
    pieces_of.push_back(pieces.size());

    if (!tp.durable.empty()) {
        // A replicated partition takes publishes on its leader only. The worker checks again
        // (leadership may move before the batch gets there); this refuses early, naming the
        // leader.
        for (const group& g : groups) {
            if (auto refused = tp.durable[g.partition]->gate.refusal()) {
                return make_error(refused->code, "partition " + std::to_string(g.partition) +
                                                     " of topic '" + tp.config.name +
                                                     "': " + refused->message);
            }
        }
    }

    const int64_t deadline =
        options.block_timeout_ns > 0 ? monotonic_ns() + options.block_timeout_ns : 0;
    publish_summary summary;
    auto& claims = scratch.claims;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const group& g = groups[gi];
        worker& w = *workers_[tp.owner_worker[g.partition]];
        const std::span<const piece> batches(pieces.data() + pieces_of[gi],
                                             pieces_of[gi + 1] - pieces_of[gi]);
        // A batch numbers its events from where the one before it in the group ended.
        uint64_t sequence = options.first_sequence;
        const auto place = [&](const piece& b, const mpsc_byte_ring::claim& c) {
            write_ingest_header(c.data, {tp.slot[g.partition], tp.generation[g.partition],
                                         g.partition, b.count, done, options.producer_id, sequence,
                                         b.borrowed ? uint16_t{ingest_borrowed} : uint16_t{0}});
            std::byte* out = c.data + ingest_header_bytes;
            for (size_t i = b.first, n = 0; n < b.count; ++i) {
                if (part_of[i] != g.partition) continue;
                if (b.borrowed) {
                    new (out) event_in(events[i]);  // its bytes stay the publisher's
                    out += sizeof(event_in);
                } else {
                    out += encode_record(events[i], out);
                }
                ++n;
            }
            w.commit(c);
            sequence += b.count;
            summary.batches_queued++;
            summary.events_queued += b.count;
        };
        if (options.on_full == backpressure::fail) {
            // All of the group or none of it: claim every batch before filling any. A group
            // half appended would be retried whole, and an idempotent producer's retry would
            // then be taken for a duplicate and its refused tail lost.
            claims.clear();
            claims.reserve(batches.size());  // no allocation between claims
            for (const piece& b : batches) {
                mpsc_byte_ring::claim c;
                if (!w.try_claim(ingest_header_bytes + entry_payload(b), c)) break;
                claims.push_back(c);
            }
            if (claims.size() < batches.size()) {
                // Given back: the worker skips an entry of no events.
                for (const mpsc_byte_ring::claim& c : claims) {
                    write_ingest_header(c.data, ingest_header{});
                    w.commit(c);
                }
                summary.events_refused += g.events;
                continue;
            }
            for (size_t k = 0; k < batches.size(); ++k) place(batches[k], claims[k]);
        } else {
            // Waiting for room: each batch goes before the next is claimed, since the worker
            // may have to take it to make that room.
            uint32_t left = g.events;
            for (const piece& b : batches) {
                mpsc_byte_ring::claim c;
                if (!claim(w, ingest_header_bytes + entry_payload(b), c, options, deadline)) {
                    // Refused: the rest of this group goes no further, so its order holds.
                    summary.events_refused += left;
                    break;
                }
                place(b, c);
                left -= b.count;
            }
        }
    }
    if (summary.events_refused > 0) {
        (options.on_full == backpressure::block ? metrics_.publish_timed_out
                                                : metrics_.publish_queue_full)
            ->inc();
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
