// admin_pool: one thread for the admin calls that may block.
#include "server/admin_pool.h"

#include <boost/asio/post.hpp>

namespace es::server {

void admin_pool::post(std::function<void()> work, std::function<void()> refused) {
    boost::asio::post(pool_, [this, work = std::move(work), refused = std::move(refused)] {
        // Work queued when the node began to stop is not started: the stop would otherwise
        // wait for each (seconds apiece when a cluster's controller is out of reach).
        if (closing_.load(std::memory_order_acquire)) {
            refused();
        } else {
            work();
        }
    });
}

void admin_pool::close() {
    closing_.store(true, std::memory_order_release);
    pool_.join();
}

}  // namespace es::server
