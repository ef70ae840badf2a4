// raft_loop: one libuv loop thread with a task queue (see raft_loop.h).
#include "replication/raft_loop.h"

#include <pthread.h>
#include <signal.h>

#include <future>
#include <utility>

namespace es::replication {

raft_loop::raft_loop(std::string name) : name_(std::move(name)) {}

raft_loop::~raft_loop() {
    stop();
}

status raft_loop::start() {
    ES_ASSERT(!started_);
    if (int rv = uv_loop_init(&loop_); rv != 0) {
        return make_error(errc::io_error, "raft loop " + name_ + ": " + uv_strerror(rv));
    }
    if (int rv = uv_async_init(&loop_, &async_, &raft_loop::on_async); rv != 0) {
        uv_loop_close(&loop_);
        return make_error(errc::io_error, "raft loop " + name_ + ": " + uv_strerror(rv));
    }
    async_.data = this;
    started_ = true;
    std::promise<std::thread::id> id;
    auto id_ready = id.get_future();
    thread_ = std::thread([this, &id] {
        // A write to a peer that went away raises SIGPIPE in the writing thread, and raft_uv
        // writes with plain write(2). Blocked here, the write fails with EPIPE instead and the
        // process is not killed, whatever the embedding program does with the signal.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        id.set_value(std::this_thread::get_id());
        // Runs until stop() closed the async handle and the sweep closed the rest.
        uv_run(&loop_, UV_RUN_DEFAULT);
        // A handle closed by a callback of the last iteration may still need one more turn.
        while (uv_loop_close(&loop_) == UV_EBUSY) uv_run(&loop_, UV_RUN_NOWAIT);
    });
    thread_id_ = id_ready.get();
    return {};
}

bool raft_loop::post(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || !started_) return false;
        tasks_.push_back(std::move(task));
        // Sent under the lock: once stop() has set stopping_, the loop thread may close async_
        // at any moment, so a send must never race with that. uv_async_send coalesces: several
        // posts may be drained by one on_async.
        uv_async_send(&async_);
    }
    return true;
}

void raft_loop::run_tasks() {
    std::deque<std::function<void()>> batch;
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        batch.swap(tasks_);
        stopping = stopping_;
    }
    for (auto& task : batch) task();
    if (!stopping) return;
    // A task of this batch may have posted more work before stop() shut the queue; run it so
    // that nothing queued is silently dropped.
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (tasks_.empty()) break;
            batch.swap(tasks_);
        }
        for (auto& task : batch) task();
        batch.clear();
    }
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
            if (!uv_is_closing(handle)) uv_close(handle, nullptr);
        },
        nullptr);
}

void raft_loop::on_async(uv_async_t* async) {
    static_cast<raft_loop*>(async->data)->run_tasks();
}

void raft_loop::stop() {
    if (!started_ || stopped_) return;
    ES_ASSERT(!on_loop_thread());
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    uv_async_send(&async_);
    thread_.join();
    stopped_ = true;
}

}  // namespace es::replication
