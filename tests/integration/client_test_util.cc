// Helpers for the client library and esctl integration tests (client_test_util.h).
#include "tests/integration/client_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <fstream>
#include <sstream>

namespace es::test {

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

command_output run_esctl(const std::string& dir, const std::vector<std::string>& args,
                         const std::string& stdin_text, const std::vector<std::string>& env) {
    static int calls = 0;
    const std::string base = dir + "/esctl-" + std::to_string(++calls);
    const std::string in_path = base + ".in", out_path = base + ".out", err_path = base + ".err";
    std::ofstream(in_path) << stdin_text;
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int in = ::open(in_path.c_str(), O_RDONLY);
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::alarm(60);  // a hung esctl must not hang the test: SIGALRM survives exec
        ::unsetenv("ESCTL_SERVER");
        for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> argv;
        std::string binary = ES_ESCTL_BINARY;
        argv.push_back(binary.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(binary.c_str(), argv.data());
        ::_exit(127);
    }
    command_output r;
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    r.out = read_all(out_path);
    r.err = read_all(err_path);
    return r;
}

}  // namespace es::test
