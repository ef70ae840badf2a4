// fork/exec of the server binary, readiness by ports.json, bounded stops; the test directory.
#include "tests/integration/server_process_fixture.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

extern char** environ;

namespace es::test {
namespace {

// How often waits look again at the process and at ports.json.
constexpr auto poll_interval = 10ms;

std::string read_whole_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

process_exit decode(int wait_status) {
    process_exit e;
    if (WIFEXITED(wait_status)) e.code = WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) e.signal = WTERMSIG(wait_status);
    return e;
}

// The environment for a child: ours without EVENTSTREAM_*, plus `extra`.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (entry.starts_with("EVENTSTREAM_")) continue;
        const auto name = entry.substr(0, entry.find('='));
        if (extra.count(std::string(name))) continue;
        env.emplace_back(entry);
    }
    for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
    return env;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const process_exit& e) {
    if (e.signal != 0) return out << "killed by signal " << e.signal;
    return out << "exit code " << e.code;
}

flag_values default_node_flags() {
    return {{"http_port", "0"},    {"grpc_port", "0"}, {"native_port", "0"},
            {"cluster_port", "0"}, {"workers", "1"},   {"pin_workers", "false"}};
}

// ---- server_process ----

result<std::unique_ptr<server_process>> server_process::spawn(const std::string& binary,
                                                              const std::vector<std::string>& args,
                                                              const std::vector<std::string>& env,
                                                              std::string data_dir,
                                                              std::string stderr_path,
                                                              std::string stdout_path) {
    const int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int out_fd = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const auto close_all = [&] {
        for (int fd : {err_fd, out_fd, null_fd}) {
            if (fd >= 0) ::close(fd);
        }
    };
    if (err_fd < 0 || out_fd < 0 || null_fd < 0) {
        const std::string why = std::strerror(errno);
        close_all();
        return make_error(errc::io_error,
                          "cannot open log files under " + stderr_path + ": " + why);
    }

    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) {
        const std::string why = std::strerror(errno);
        close_all();
        return make_error(errc::io_error, "fork failed: " + why);
    }
    if (pid == 0) {
        // A test runner that dies (crash, timeout kill) takes its servers with it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(null_fd, STDIN_FILENO);
        ::dup2(out_fd, STDOUT_FILENO);
        ::dup2(err_fd, STDERR_FILENO);
        ::execve(binary.c_str(), argv.data(), envp.data());
        static constexpr char msg[] = "server_process: execve failed\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
        ::_exit(127);
    }
    close_all();
    return std::unique_ptr<server_process>(new server_process(
        pid, std::move(data_dir), std::move(stderr_path), std::move(stdout_path)));
}

server_process::server_process(pid_t pid, std::string data_dir, std::string stderr_path,
                               std::string stdout_path)
    : pid_(pid),
      data_dir_(std::move(data_dir)),
      stderr_path_(std::move(stderr_path)),
      stdout_path_(std::move(stdout_path)) {}

server_process::~server_process() {
    if (!poll_exit()) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
    }
}

bool server_process::poll_exit() {
    if (exit_) return true;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        exit_ = decode(st);
        return true;
    }
    return false;
}

bool server_process::running() {
    if (!poll_exit()) return true;
    end_expected_ = true;
    return false;
}

bool server_process::send_signal(int signo) {
    end_expected_ = true;
    if (poll_exit()) return false;
    return ::kill(pid_, signo) == 0;
}

bool server_process::ended_unexpectedly() {
    return poll_exit() && !end_expected_;
}

std::optional<process_exit> server_process::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!poll_exit()) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(poll_interval);
    }
    end_expected_ = true;
    return exit_;
}

std::optional<process_exit> server_process::stop(int signo, std::chrono::milliseconds timeout) {
    send_signal(signo);
    auto e = wait_exit(timeout);
    if (!e) {
        ::kill(pid_, SIGKILL);
        wait_exit(5s);
    }
    return e;
}

result<server::ports_record> server_process::wait_ready(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // Read before checking for exit: a node that wrote ports.json and then stopped was
        // still ready once, but one that exits without it never was.
        auto ports = server::read_ports_file(data_dir_);
        if (ports && ports->pid == pid_) return ports;
        if (poll_exit()) {
            end_expected_ = true;
            std::ostringstream why;
            why << "server (pid " << pid_ << ") ended with " << *exit_
                << " before it was ready; its log:\n"
                << log();
            return make_error(errc::not_found, why.str());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return make_error(errc::timed_out,
                              "server (pid " + std::to_string(pid_) + ") not ready after " +
                                  std::to_string(timeout.count()) + " ms; its log:\n" + log());
        }
        std::this_thread::sleep_for(poll_interval);
    }
}

std::string server_process::log() const {
    return read_whole_file(stderr_path_);
}
std::string server_process::output() const {
    return read_whole_file(stdout_path_);
}

// ---- server_process_fixture ----

std::string server_process_fixture::binary() {
    return ES_SERVER_BINARY;
}

void server_process_fixture::SetUp() {
    std::string pattern = "/tmp/es-it-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
    root_ = pattern;
}

void server_process_fixture::TearDown() {
    // Every test must leave its nodes running unless it stopped them itself.
    for (const auto& p : processes_) {
        if (p->ended_unexpectedly()) {
            ADD_FAILURE() << "node (pid " << p->pid() << ", " << p->data_dir()
                          << ") ended during the test without being stopped; its log:\n"
                          << p->log();
        }
    }
    // Stop nodes still running (SIGKILL: a test that wanted a clean stop asked for one).
    processes_.clear();
    if (root_.empty()) return;
    if (HasFailure()) {
        std::cerr << "kept the test directory " << root_ << " (data and logs of its nodes)\n";
        return;
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
}

std::string server_process_fixture::fresh_path(const std::string& name) {
    return root_ + "/" + name + "-" + std::to_string(++launched_);
}

server_process* server_process_fixture::launch(server_launch options) {
    if (!options.flags.count("data_dir")) options.flags["data_dir"] = fresh_path("data");
    const std::string data_dir = options.flags["data_dir"];

    std::vector<std::string> args;
    for (const auto& [name, value] : options.flags) {
        args.push_back(flag_name(name));
        args.push_back(value);
    }
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());

    const std::string logs = fresh_path("node");
    auto p = server_process::spawn(binary(), args, child_environment(options.env), data_dir,
                                   logs + ".stderr", logs + ".stdout");
    if (!p) {
        ADD_FAILURE() << p.err().message;
        return nullptr;
    }
    processes_.push_back(std::move(*p));
    return processes_.back().get();
}

server_process* server_process_fixture::start_ready(server_launch options,
                                                    server::ports_record* ports) {
    server_process* p = launch(std::move(options));
    if (p == nullptr) return nullptr;
    auto ready = p->wait_ready();
    if (!ready) {
        ADD_FAILURE() << ready.err().message;
        return nullptr;
    }
    if (ports != nullptr) *ports = *ready;
    return p;
}

std::string server_process_fixture::write_file(const std::string& name, const std::string& text) {
    const std::string path = fresh_path(name);
    std::ofstream(path) << text;
    return path;
}

}  // namespace es::test
