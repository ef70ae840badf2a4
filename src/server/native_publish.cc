// Gathering a native PUBLISH's batch completions into its answer.
#include "server/native_publish.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "protocol/codec.h"
#include "server/native_convert.h"
#include "server/native_errors.h"

namespace es::server {
namespace {

// Lives from the publish call until the last of its completions. `remaining` starts at 0; each
// completion subtracts 1 and the publisher adds the number of queued batches once publish
// returns; whoever brings it back to 0 (exactly once) owns the state and answers.
struct pending_publish {
    std::atomic<int64_t> remaining{0};
    std::mutex mutex;
    std::vector<core::publish_outcome> outcomes;  // guarded by mutex
    core::publish_summary summary;                // written by the publisher before it adds
    uint64_t request_id = 0;
    size_t event_count = 0;
    native_answer answer;

    void finish() {
        std::string frame;
        for (const core::publish_outcome& o : outcomes) {
            if (o.code != errc::ok) {
                encode_error(frame, request_id,
                             make_error(o.code, "the batch of " + std::to_string(o.count) +
                                                    " event(s) for partition " +
                                                    std::to_string(o.partition) +
                                                    " was refused: " + errc_name(o.code)));
                answer(std::move(frame), false);
                return;
            }
        }
        if (summary.events_refused > 0) {
            encode_error(frame, request_id,
                         make_error(errc::queue_full,
                                    std::to_string(summary.events_refused) + " of " +
                                        std::to_string(event_count) +
                                        " events were refused (queue full); the others were "
                                        "appended"));
            answer(std::move(frame), false);
            return;
        }
        protocol::encode(frame, request_id, publish_ack_of(std::move(outcomes)));
        answer(std::move(frame), true);
    }

    static void on_batch(void* context, const core::publish_outcome& o) {
        auto* self = static_cast<pending_publish*>(context);
        {
            std::lock_guard lock(self->mutex);
            self->outcomes.push_back(o);
        }
        if (self->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::unique_ptr<pending_publish> owned(self);
            owned->finish();
        }
    }
};

}  // namespace

void publish_with_ack(core::engine& engine, const core::topic_ptr& t,
                      std::span<const core::event_in> events, const core::publish_options& options,
                      uint64_t request_id, native_answer answer) {
    auto* pending = new pending_publish;
    pending->request_id = request_id;
    pending->event_count = events.size();
    pending->answer = std::move(answer);
    auto summary = engine.publish(t, events, options,
                                  core::publish_completion{&pending_publish::on_batch, pending});
    if (!summary) {
        // Nothing was queued, so no completion will come.
        std::unique_ptr<pending_publish> owned(pending);
        std::string frame;
        encode_error(frame, request_id, summary.err());
        owned->answer(std::move(frame), false);
        return;
    }
    pending->summary = *summary;
    const auto n = static_cast<int64_t>(summary->batches_queued);
    if (pending->remaining.fetch_add(n, std::memory_order_acq_rel) == -n) {
        std::unique_ptr<pending_publish> owned(pending);
        owned->finish();
    }
}

}  // namespace es::server
