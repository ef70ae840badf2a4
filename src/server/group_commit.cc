// Fire-and-forget group-offset commits; failures go to the log.
#include "server/group_commit.h"

#include <spdlog/spdlog.h>

namespace es::server {

void commit_in_background(core::engine& engine, const core::topic_ptr& topic,
                          const std::string& group, const std::map<uint32_t, uint64_t>& offsets,
                          std::string_view who) {
    for (const auto& [partition, next] : offsets) {
        engine.commit_offset_async(
            topic, group, partition, next,
            [topic, group, partition = partition, next = next, who = std::string(who)](status s) {
                if (s) return;
                spdlog::warn("{}: commit of {} partition {} offset {} for group {} failed: {}", who,
                             topic->config.name, partition, next, group, s.err().message);
            });
    }
}

}  // namespace es::server
