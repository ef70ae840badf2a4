// admin_pool: one thread for the admin calls that may block.
#include "server/admin_pool.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <exception>
#include <string>

namespace es::server {

void admin_pool::post(std::function<void()> work, std::function<void(const error&)> failed) {
    boost::asio::post(pool_, [this, work = std::move(work), failed = std::move(failed)] {
        // Work queued when the node began to stop is not started: the stop would otherwise
        // wait for each (seconds apiece when a cluster's controller is out of reach).
        if (closing_.load(std::memory_order_acquire)) {
            failed(error{errc::shutting_down, "the node is stopping"});
            return;
        }
        try {
            work();
        } catch (const std::exception& e) {
            spdlog::error("topic admin failed: {}", e.what());
            failed(error{errc::io_error, std::string("internal error: ") + e.what()});
        }
    });
}

void admin_pool::close() {
    closing_.store(true, std::memory_order_release);
    pool_.join();
}

}  // namespace es::server
