// esctl topic create|list|describe|delete.
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/cli_common.h"

namespace es::cli {

namespace {

using eventstream::admin;

const char* storage_name(eventstream::storage_kind s) {
    return s == eventstream::storage_kind::durable ? "durable" : "memory";
}

nlohmann::json topic_json(const eventstream::topic_info& t) {
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& p : t.partitions)
        parts.push_back({{"partition", p.partition},
                         {"leader", p.leader_node},
                         {"start_offset", p.start_offset},
                         {"end_offset", p.end_offset},
                         {"stored_bytes", p.stored_bytes}});
    return {{"name", t.config.name},
            {"id", t.id},
            {"partitions", t.config.partitions},
            {"storage", storage_name(t.config.storage)},
            {"replication_factor", t.config.replication_factor},
            {"retention_bytes", t.config.retention_bytes},
            {"retention_ms", t.config.retention_ms},
            {"max_event_bytes", t.config.max_event_bytes},
            {"partition_detail", parts}};
}

struct topic_args {
    eventstream::topic_config config;
    std::string storage = "memory";
    // Parsed as a number here: the config's uint8_t would be read and printed as a character.
    uint32_t replication_factor = 1;
    bool json = false;
};

void print_topic(const eventstream::topic_info& t) {
    std::cout << "topic " << t.config.name << ": " << t.config.partitions << " partitions, "
              << storage_name(t.config.storage) << ", replication "
              << int(t.config.replication_factor) << ", retention " << t.config.retention_bytes
              << " bytes";
    if (t.config.retention_ms) std::cout << " / " << t.config.retention_ms << " ms";
    std::cout << ", max event " << t.config.max_event_bytes << " bytes\n";
    std::cout << std::left << std::setw(10) << "PARTITION" << std::setw(8) << "LEADER"
              << std::setw(16) << "START" << std::setw(16) << "END"
              << "BYTES\n";
    for (const auto& p : t.partitions)
        std::cout << std::setw(10) << p.partition << std::setw(8) << p.leader_node << std::setw(16)
                  << p.start_offset << std::setw(16) << p.end_offset << p.stored_bytes << "\n";
}

}  // namespace

void add_topic_commands(CLI::App& app, const global_options& g, command_run& selected) {
    auto* topic = app.add_subcommand("topic", "Create, list, describe and delete topics");
    topic->require_subcommand(1);
    auto args = std::make_shared<topic_args>();

    auto* create = topic->add_subcommand("create", "Create a topic");
    create->add_option("name", args->config.name, "Topic name: 1-249 of [A-Za-z0-9._-]")
        ->required();
    create->add_option("-p,--partitions", args->config.partitions, "Partition count")
        ->capture_default_str();
    create->add_option("--storage", args->storage, "memory or durable")
        ->check(CLI::IsMember({"memory", "durable"}))
        ->capture_default_str();
    create
        ->add_option("--replication-factor", args->replication_factor,
                     "Replicas per partition (1-5)")
        ->check(CLI::Range(1u, 5u))
        ->capture_default_str();
    create
        ->add_option("--retention-bytes", args->config.retention_bytes, "Bytes kept per partition")
        ->capture_default_str();
    create->add_option("--retention-ms", args->config.retention_ms, "Age limit in ms (0: none)")
        ->capture_default_str();
    create->add_option("--max-event-bytes", args->config.max_event_bytes, "Largest event")
        ->capture_default_str();
    create->add_flag("--json", args->json, "Print the topic as JSON");
    create->callback([&g, &selected, args] {
        selected = [&g, args] {
            auto a = admin::connect(connection_for(g));
            if (!a) return fail("connect to " + g.server, a.err());
            args->config.replication_factor = static_cast<uint8_t>(args->replication_factor);
            args->config.storage = args->storage == "durable" ? eventstream::storage_kind::durable
                                                              : eventstream::storage_kind::memory;
            auto t = (*a)->create_topic(args->config);
            if (!t) return fail("create topic " + args->config.name, t.err());
            if (args->json) {
                std::cout << topic_json(*t).dump() << "\n";
            } else {
                std::cout << "created topic " << t->config.name << " with " << t->config.partitions
                          << " partitions\n";
            }
            return exit_ok;
        };
    });

    auto* list = topic->add_subcommand("list", "List topics");
    list->add_flag("--json", args->json, "Print a JSON array");
    list->callback([&g, &selected, args] {
        selected = [&g, args] {
            auto a = admin::connect(connection_for(g));
            if (!a) return fail("connect to " + g.server, a.err());
            auto l = (*a)->list_topics();
            if (!l) return fail("list topics", l.err());
            if (args->json) {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& t : *l) out.push_back(topic_json(t));
                std::cout << out.dump() << "\n";
                return exit_ok;
            }
            std::cout << std::left << std::setw(32) << "NAME" << std::setw(12) << "PARTITIONS"
                      << std::setw(10) << "STORAGE"
                      << "EVENTS\n";
            for (const auto& t : *l) {
                uint64_t events = 0;
                for (const auto& p : t.partitions) events += p.end_offset - p.start_offset;
                std::cout << std::setw(32) << t.config.name << std::setw(12) << t.config.partitions
                          << std::setw(10) << storage_name(t.config.storage) << events << "\n";
            }
            return exit_ok;
        };
    });

    auto* describe = topic->add_subcommand("describe", "Show a topic's settings and partitions");
    describe->add_option("name", args->config.name, "Topic name")->required();
    describe->add_flag("--json", args->json, "Print JSON");
    describe->callback([&g, &selected, args] {
        selected = [&g, args] {
            auto a = admin::connect(connection_for(g));
            if (!a) return fail("connect to " + g.server, a.err());
            auto t = (*a)->describe_topic(args->config.name);
            if (!t) return fail("describe topic " + args->config.name, t.err());
            if (args->json) {
                std::cout << topic_json(*t).dump() << "\n";
            } else {
                print_topic(*t);
            }
            return exit_ok;
        };
    });

    auto* del = topic->add_subcommand("delete", "Delete a topic and its events");
    del->add_option("name", args->config.name, "Topic name")->required();
    del->callback([&g, &selected, args] {
        selected = [&g, args] {
            auto a = admin::connect(connection_for(g));
            if (!a) return fail("connect to " + g.server, a.err());
            auto s = (*a)->delete_topic(args->config.name);
            if (!s) return fail("delete topic " + args->config.name, s.err());
            std::cout << "deleted topic " << args->config.name << "\n";
            return exit_ok;
        };
    });
}

}  // namespace es::cli
