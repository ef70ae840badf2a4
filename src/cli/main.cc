// esctl: the command-line client of EventStreamCore (topics, produce, consume, bench) over the
// native protocol. docs/esctl.md describes every command.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/cli_common.h"

int main(int argc, char** argv) {
    using namespace es::cli;
    CLI::App app{"esctl: command-line client of EventStreamCore", "esctl"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show the help of every command");
    global_options g;
    const char* env = std::getenv("ESCTL_SERVER");
    g.server = env && *env ? env : "127.0.0.1:7070";
    app.add_option("--server", g.server,
                   "Server native address host:port (env ESCTL_SERVER, default 127.0.0.1:7070)")
        ->capture_default_str();

    command_run selected;
    add_topic_commands(app, g, selected);
    add_produce_command(app, g, selected);
    add_consume_command(app, g, selected);
    add_bench_command(app, g, selected);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);  // prints the help, 0
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);  // prints the error on stderr
        return exit_usage;
    }
    if (!selected) {
        std::cerr << app.help();
        return exit_usage;
    }
    try {
        return selected();
    } catch (const std::exception& e) {
        std::cerr << "esctl: " << e.what() << "\n";
        return exit_error;
    }
}
