// What every esctl command shares: exit codes, the server address, error output, and the
// parsing of option values common to several commands.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "eventstream/eventstream.h"

namespace es::cli {

// Exit codes (docs/esctl.md).
inline constexpr int exit_ok = 0;
inline constexpr int exit_error = 1;  // the server refused, or a connection or file failed
inline constexpr int exit_usage = 2;  // bad command line

// Options every command has. `server` starts from ESCTL_SERVER or 127.0.0.1:7070.
struct global_options {
    std::string server;
};

// A command's work, run after the command line is parsed; returns the exit code.
using command_run = std::function<int()>;

// Registers a subcommand on `app`; `selected` is set to its run when it is chosen.
void add_topic_commands(CLI::App& app, const global_options& g, command_run& selected);
void add_produce_command(CLI::App& app, const global_options& g, command_run& selected);
void add_consume_command(CLI::App& app, const global_options& g, command_run& selected);
void add_bench_command(CLI::App& app, const global_options& g, command_run& selected);

// Connection options for the server address.
eventstream::connection_options connection_for(const global_options& g);

// Prints "esctl: <what>: <error>" on stderr and returns exit_error.
int fail(const std::string& what, const eventstream::error& e);

// "0", "none" -> none; "1", "leader" -> leader; "all", "-1" -> all. nullopt otherwise.
std::optional<eventstream::acks> parse_acks(const std::string& text);

}  // namespace es::cli
