// Registration of the engine's metrics.
#include "core/engine_metrics.h"

#include <string>

#include "common/assert.h"

namespace es::core {
namespace {

template <class T>
std::shared_ptr<T> must(result<std::shared_ptr<T>> r) {
    // The names are ours and fixed: a refusal is a programming error.
    ES_ASSERT_MSG(r.has_value(), r.has_value() ? "" : r.err().message.c_str());
    return std::move(r).value();
}

struct maker {
    metrics::registry* registry;

    std::shared_ptr<metrics::counter> counter(const char* name, const char* help,
                                              metrics::label_set labels = {}) const {
        if (!registry) return std::make_shared<metrics::counter>();
        return must(registry->add_counter(name, help, std::move(labels)));
    }
    std::shared_ptr<metrics::gauge> gauge(const char* name, const char* help,
                                          metrics::label_set labels = {}) const {
        if (!registry) return std::make_shared<metrics::gauge>();
        return must(registry->add_gauge(name, help, std::move(labels)));
    }
};

}  // namespace

engine_metrics engine_metrics::create(metrics::registry* registry, uint32_t worker_count) {
    const maker m{registry};
    engine_metrics e;
    for (uint32_t w = 0; w < worker_count; ++w) {
        const metrics::label_set l{{"worker", std::to_string(w)}};
        e.workers.push_back(worker_metrics{
            m.counter("eventstream_batches_appended_total",
                      "Batches appended to memory partitions, by worker.", l),
            m.counter("eventstream_events_appended_total",
                      "Events appended to memory partitions, by worker.", l),
            m.counter("eventstream_events_delivered_total",
                      "Events handed to subscribers, by worker.", l),
            m.counter("eventstream_subscriber_gaps_total",
                      "Gap notices sent to subscribers that fell behind retention, by worker.", l),
            m.counter("eventstream_worker_parks_total",
                      "Times a worker went to sleep for lack of work.", l),
            m.counter("eventstream_disk_reads_total",
                      "Reads from disk for subscribers behind a durable partition's memory "
                      "ring, by worker.",
                      l),
            m.counter("eventstream_disk_read_errors_total",
                      "Failed reads from disk for subscribers (retried), by worker.", l),
            m.gauge(
                "eventstream_ingest_queue_bytes",
                "Bytes waiting in a worker's ingest queue (sampled every retention tick, 100 ms).",
                l),
        });
    }
    const char* refused = "Publish calls refused, by reason.";
    e.publish_queue_full =
        m.counter("eventstream_publish_refused_total", refused, {{"reason", "queue_full"}});
    e.publish_timed_out =
        m.counter("eventstream_publish_refused_total", refused, {{"reason", "timed_out"}});
    e.publish_invalid =
        m.counter("eventstream_publish_refused_total", refused, {{"reason", "invalid"}});
    e.topics = m.gauge("eventstream_topics", "Topics on this node.");
    e.partitions = m.gauge("eventstream_partitions", "Partitions on this node.");
    e.subscriptions = m.gauge("eventstream_subscriptions", "Open subscriptions.");
    return e;
}

}  // namespace es::core
