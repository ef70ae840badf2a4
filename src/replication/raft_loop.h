// A libuv loop on its own thread, the home of some Raft groups: every libuv and libraft call for
// those groups happens on it. Other threads hand work over with post() (a mutex-guarded queue
// drained by a uv_async_t). Internal to src/replication.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace es::replication {

class raft_loop {
  public:
    explicit raft_loop(std::string name);
    // Stops the loop if it still runs.
    ~raft_loop();
    raft_loop(const raft_loop&) = delete;
    raft_loop& operator=(const raft_loop&) = delete;

    // Initialises the loop and starts its thread. Error: io_error. Call once.
    status start();

    // Queues `task` to run on the loop thread, in order with other posts. Returns false (and
    // destroys `task` without running it) once stop() has begun. Any thread.
    bool post(std::function<void()> task);

    // Runs the tasks already queued, closes every handle still open on the loop, runs it until
    // they are closed and joins the thread. Owners must have closed their handles first (the
    // sweep is a safety net that logs nothing and frees nothing). Idempotent; not from the loop
    // thread.
    void stop();

    // REQUIRES: called on the loop thread (or before start()).
    uv_loop_t* loop() noexcept { return &loop_; }
    bool on_loop_thread() const noexcept { return std::this_thread::get_id() == thread_id_; }
    const std::string& name() const noexcept { return name_; }

  private:
    static void on_async(uv_async_t* async);
    void run_tasks();

    // Constant after start().
    const std::string name_;
    uv_loop_t loop_{};
    uv_async_t async_{};
    std::thread thread_;
    std::thread::id thread_id_;
    bool started_ = false;

    std::mutex mutex_;
    std::deque<std::function<void()>> tasks_;  // guarded by mutex_
    bool stopping_ = false;                    // guarded by mutex_
    bool stopped_ = false;                     // touched by stop() only
};

}  // namespace es::replication
