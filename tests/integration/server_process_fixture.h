// Runs the real eventstream binary as a child process for multi-process tests: a fresh data
// directory per node, all ports 0 by default, stderr and stdout captured to files, readiness by
// ports.json, and a bounded stop.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/result.h"
#include "server/ports_file.h"

namespace es::test {

using namespace std::chrono_literals;

// How a child process ended: exit code, or the signal that killed it.
struct process_exit {
    int code = -1;   // 0..255 when the process exited, else -1
    int signal = 0;  // the signal that ended it, else 0

    bool exited_with(int c) const { return signal == 0 && code == c; }
};
std::ostream& operator<<(std::ostream& out, const process_exit& e);

// The flags a test node gets unless the test changes them: every port 0 and one unpinned
// worker, so that many nodes can share a small machine.
flag_values default_node_flags();

struct server_launch {
    // Passed as --name value, by config field name. data_dir is filled in by the fixture when
    // absent.
    flag_values flags = default_node_flags();
    // Passed verbatim after the flags (e.g. {"--config", path}, or deliberately bad arguments).
    std::vector<std::string> extra_args;
    // Added to the environment. EVENTSTREAM_* variables of the test's own environment are not
    // passed on, so that a developer's shell cannot change a test's outcome.
    std::map<std::string, std::string> env;
};

// One child process running the server binary. Killed (SIGKILL) and reaped on destruction if
// still running.
class server_process {
  public:
    // Forks and execs `binary` with `args` (argv[1..]) and `env` (whole environment); stderr goes
    // to `stderr_path`, stdout to `stdout_path`. `data_dir` is where ports.json will appear.
    // Error: io_error when the process cannot be created (files, fork, exec).
    static result<std::unique_ptr<server_process>> spawn(const std::string& binary,
                                                         const std::vector<std::string>& args,
                                                         const std::vector<std::string>& env,
                                                         std::string data_dir,
                                                         std::string stderr_path,
                                                         std::string stdout_path);
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    const std::string& data_dir() const noexcept { return data_dir_; }

    // Waits until ports.json written by this process appears. Errors (message includes the
    // captured stderr): the process exited first, or `timeout` passed.
    result<server::ports_record> wait_ready(std::chrono::milliseconds timeout = 20s);

    // Waits up to `timeout` for the process to end; nullopt if it is still running.
    std::optional<process_exit> wait_exit(std::chrono::milliseconds timeout = 20s);
    // Sends `signo` and waits as wait_exit. If the process is still running then, it is killed
    // with SIGKILL and nullopt returned, so that a hung server never outlives its test.
    std::optional<process_exit> stop(int signo = SIGTERM, std::chrono::milliseconds timeout = 20s);
    // False once the process has ended (and been reaped).
    bool running();
    // Sends a signal; false if the process has ended.
    bool send_signal(int signo);

    // Everything written to stderr (the log) and stdout so far.
    std::string log() const;
    std::string output() const;

    // True when the process has ended although the test neither signalled it nor saw it end
    // (wait_exit, stop, running, wait_ready): a node that died on its own, which the fixture
    // reports as a failure after every test.
    bool ended_unexpectedly();

  private:
    server_process(pid_t pid, std::string data_dir, std::string stderr_path,
                   std::string stdout_path);
    // Reaps the process without waiting; true if it has ended.
    bool poll_exit();

    pid_t pid_;
    const std::string data_dir_;
    const std::string stderr_path_;
    const std::string stdout_path_;
    std::optional<process_exit> exit_;  // set once reaped
    bool end_expected_ = false;         // signalled, or its end seen by the test
};

// A gtest fixture that owns a temporary directory (/tmp/es-it-XXXXXX) holding the data
// directories and logs of the nodes it starts. The directory is removed after a passing test and
// kept (its path printed) after a failing one.
class server_process_fixture : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // The temporary directory of this test.
    const std::string& root() const noexcept { return root_; }
    // A path under root() that does not exist yet; `name` makes it readable in a kept root.
    std::string fresh_path(const std::string& name);

    // Starts a node without waiting for it. Fails the test and returns nullptr when the process
    // cannot be created.
    server_process* launch(server_launch options = {});
    // Starts a node and waits until it is ready; fails the test (with the node's log) and
    // returns nullptr when it does not become ready. `ports` receives ports.json if not null.
    server_process* start_ready(server_launch options = {}, server::ports_record* ports = nullptr);

    // Writes `text` to a new file under root() and returns its path.
    std::string write_file(const std::string& name, const std::string& text);

    // The server binary under test (ES_SERVER_BINARY).
    static std::string binary();

  private:
    std::string root_;
    int launched_ = 0;
    std::vector<std::unique_ptr<server_process>> processes_;
};

}  // namespace es::test
