// One close() at a time for a client object whose close() may be called from any thread. The
// closing thread holds the turn; a thread that comes meanwhile waits for the turn to end, so
// that whichever close() returns, the object is closed and may be destroyed. A close() from a
// thread the closer waits on (a callback it runs or joins) must not wait: the owner checks
// that with in_progress() and returns at once.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace es::client {

class close_turn {
  public:
    // Under the owner's mutex (`lk` holds it).
    bool in_progress() const noexcept { return closer_ != std::thread::id{}; }
    bool mine() const noexcept { return closer_ == std::this_thread::get_id(); }
    // Waits for a running close to end, then takes the turn.
    void take(std::unique_lock<std::mutex>& lk) {
        ended_.wait(lk, [&] { return !in_progress(); });
        closer_ = std::this_thread::get_id();
    }

    // Gives the turn back when it goes out of scope, however the close ends (a callback or a
    // join may throw). It notifies under the mutex: a waiter may destroy the owner, mutex and
    // all, as soon as it wakes.
    class holder {
      public:
        holder(close_turn& t, std::mutex& mu) : turn_(t), mu_(mu) {}
        ~holder() {
            std::lock_guard lk(mu_);
            turn_.closer_ = {};
            turn_.ended_.notify_all();
        }
        holder(const holder&) = delete;
        holder& operator=(const holder&) = delete;

      private:
        close_turn& turn_;
        std::mutex& mu_;
    };

  private:
    std::thread::id closer_;  // guarded by the owner's mutex
    std::condition_variable ended_;
};

}  // namespace es::client
