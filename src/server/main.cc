// eventstream: the server binary. Reads the configuration (flags, EVENTSTREAM_* variables, a
// YAML file), runs one node until SIGINT or SIGTERM, and exits 0 after a clean stop, 1 when
// the node cannot start, 2 when the configuration is invalid.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/logging.h"
#include "server/node.h"

namespace {

constexpr int exit_clean = 0;
constexpr int exit_start_failed = 1;
constexpr int exit_usage = 2;

// The startup banner on stdout, for people; the same facts go to the log for machines.
void print_summary(const es::node_config& config, const es::server::node_ports& ports) {
    const std::string host =
        config.bind.find(':') != std::string::npos ? "[" + config.bind + "]" : config.bind;
    const std::string cluster =
        config.peers.empty()
            ? "reserved: a single node (--peers forms a cluster)"
            : "node-to-node, a cluster of " + std::to_string(config.peers.size()) + " nodes";
    std::printf(
        "eventstream %s: node %u ready\n"
        "  http     http://%s:%u   health: /health/ready, metrics: /metrics\n"
        "  grpc     %s:%u\n"
        "  native   %s:%u   TCP, and UDP publish\n"
        "  cluster  %s:%u   %s\n"
        "  data     %s\n"
        "Press Ctrl-C to stop.\n",
        ES_VERSION, config.node_id, host.c_str(), ports.http, host.c_str(), ports.grpc,
        host.c_str(), ports.native, host.c_str(), ports.cluster, cluster.c_str(),
        config.data_dir.c_str());
    std::fflush(stdout);
}

// One line with every effective setting, so that a log shows what a node ran with.
std::string config_summary(const es::node_config& config) {
    std::string s;
    for (const auto& field : es::config_fields()) {
        if (!s.empty()) s += ' ';
        s += std::string(field.name) + "=" + field.show(config);
    }
    return s;
}

int run(int argc, char** argv) {
    CLI::App app{"eventstream: a node of the EventStreamCore event streaming engine"};
    app.set_version_flag("--version", std::string("eventstream ") + ES_VERSION);

    // One string option per field of the table: the table parses and checks values, so that a
    // field behaves the same from a flag, a variable or the file.
    const auto& fields = es::config_fields();
    std::vector<std::string> values(fields.size());
    std::vector<CLI::Option*> options(fields.size());
    const es::node_config defaults;
    for (size_t i = 0; i < fields.size(); ++i) {
        const auto& f = fields[i];
        std::string shown = f.show(defaults);
        if (shown.empty()) shown = "none";
        const std::string help =
            std::string(f.help) + " (env " + es::env_name(f.name) + ", default " + shown + ")";
        // The last of repeated flags wins, so that a wrapper's defaults (scripts/run passes
        // --data-dir) can be overridden by the arguments after them.
        options[i] = app.add_option(es::flag_name(f.name), values[i], help)
                         ->type_name("VALUE")
                         ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    std::string config_file;
    CLI::Option* config_option =
        app.add_option("--config", config_file,
                       "YAML file of settings, keys as the flags without '--' and with '_' "
                       "(env EVENTSTREAM_CONFIG); variables and flags override it")
            ->type_name("FILE")
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "eventstream: " << e.what() << "\nRun with --help for the options.\n";
        return exit_usage;
    }

    es::flag_values flags;
    for (size_t i = 0; i < fields.size(); ++i) {
        if (options[i]->count() > 0) flags.emplace(std::string(fields[i].name), values[i]);
    }
    if (config_option->count() > 0) flags.emplace("config", config_file);

    auto config = es::load_config(flags, es::process_environment());
    if (!config) {
        std::cerr << "eventstream: " << config.err().message << "\n";
        return exit_usage;
    }

    es::init_logging(config->log_format == "json" ? es::log_format::json : es::log_format::text,
                     config->log_level);
    spdlog::info("eventstream {} (pid {}) with {}", ES_VERSION, ::getpid(),
                 config_summary(*config));
    if (!config->config_file.empty()) spdlog::info("settings read from {}", config->config_file);

    es::server::node node(*config);
    if (auto started = node.start(); !started) {
        spdlog::error("cannot start: {}", started.err().message);
        return exit_start_failed;
    }
    print_summary(*config, node.ports());
    node.wait_for_stop_request();
    node.stop();
    return exit_clean;
}

}  // namespace

int main(int argc, char** argv) {
    // A client that goes away must not kill the server: socket writes report EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    // In a cluster every Raft group's log writes, and the store flushes before its snapshots
    // (up to hundreds of ms each), run on libuv's thread pool (raft_log_io). libuv reads its
    // size once, at the pool's first use, and defaults to 4: a few flushes at once would hold
    // up every group's appends. Set here, before any thread exists (setenv is not thread-safe);
    // an operator's own UV_THREADPOOL_SIZE wins.
    ::setenv("UV_THREADPOOL_SIZE", "16", 0);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        // Only a bug gets here (errors are values); say what it was rather than abort quietly.
        spdlog::critical("unexpected exception: {}", e.what());
        return exit_start_failed;
    }
}
