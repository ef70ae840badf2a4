// The node's admin thread: topic creations and deletions, which may block (in a cluster they
// wait for the controller's commit and the partitions' groups, seconds when the controller has
// lost its majority), run here instead of on an io thread, whose other connections would wait
// with them. Shared by the HTTP and native listeners.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <functional>

#include "common/result.h"

namespace es::server {

class admin_pool {
  public:
    admin_pool() = default;
    admin_pool(const admin_pool&) = delete;
    admin_pool& operator=(const admin_pool&) = delete;

    // Runs `work` on the admin thread, in the order posted. `failed` runs there instead, with
    // shutting_down once close() has begun, or with an io_error "internal error: ..." when
    // `work` throws (a bug answers an error; it does not end the process). Any thread.
    void post(std::function<void()> work, std::function<void(const error&)> failed);
    // Refuses what is queued and waits for the work running now: call after the listeners are
    // closed and before the engine stops. Work posted later is dropped unrun.
    void close();

  private:
    std::atomic<bool> closing_{false};
    boost::asio::thread_pool pool_{1};
};

}  // namespace es::server
