// libFuzzer target for configuration values given as text from outside (command-line flags,
// EVENTSTREAM_* variables): every field's parse with the whole input, through load_config as a
// flag and as a variable, and the input in split chunks spread over several fields at once.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/assert.h"
#include "common/config.h"
#include "config_checks.h"
#include "fuzz_util.h"

namespace {

using es::config_field;
using es::node_config;

// Environment variables by name.
using env_map = std::map<std::string, std::string>;

es::env_reader env_of(env_map vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

const config_field* field_named(std::string_view name) {
    for (const auto& field : es::config_fields()) {
        if (field.name == name) return &field;
    }
    return nullptr;
}

// One field given the whole input directly, as a flag and as a variable. The three agree:
// load_config accepts exactly when the text parses and the configuration it makes passes
// validate() (a port may parse but clash with another port's default).
void fuzz_one_field(const config_field& field, std::string_view text) {
    node_config direct;
    const es::status parsed = field.parse(direct, text);
    if (!parsed) es::fuzz::check_refused(parsed.err());
    const bool accept = parsed && es::validate(direct);

    const std::string name(field.name);
    const auto by_flag = es::load_config({{name, std::string(text)}}, env_of({}));
    const auto by_env = es::load_config({}, env_of({{es::env_name(name), std::string(text)}}));
    for (const auto* loaded : {&by_flag, &by_env}) {
        ES_ASSERT_MSG(loaded->has_value() == accept, "load_config disagrees with parse");
        if (*loaded) {
            ES_ASSERT(field.show(**loaded) == field.show(direct));
            es::fuzz::check_accepted(**loaded);
        } else {
            es::fuzz::check_refused(loaded->err());
        }
    }
}

// The input in split chunks, dealt to the fields in turn, each round switching between flags
// and variables: several values from two sources at once, as on a real command line. A model
// applies them in load_config's documented order (variables in table order, then flags; later
// wins) and must reach the same verdict and the same values.
void fuzz_split(std::string_view input) {
    const auto& fields = es::config_fields();
    es::flag_values flags;
    env_map env;
    size_t i = 0;
    for (const std::string_view chunk : es::fuzz::split_chunks(input)) {
        const config_field& field = fields[i % fields.size()];
        if ((i % fields.size() + i / fields.size()) % 2 == 0) {
            flags[std::string(field.name)] = std::string(chunk);
        } else {
            env[es::env_name(field.name)] = std::string(chunk);
        }
        ++i;
    }

    node_config model;
    bool accept = true;
    for (const auto& field : fields) {
        const auto it = env.find(es::env_name(field.name));
        if (accept && it != env.end()) accept = static_cast<bool>(field.parse(model, it->second));
    }
    for (const auto& [name, value] : flags) {
        if (accept) accept = static_cast<bool>(field_named(name)->parse(model, value));
    }
    accept = accept && es::validate(model);

    const auto loaded = es::load_config(flags, env_of(env));
    ES_ASSERT_MSG(loaded.has_value() == accept, "load_config disagrees with the model");
    if (!loaded) {
        es::fuzz::check_refused(loaded.err());
        return;
    }
    for (const auto& field : fields) ES_ASSERT(field.show(*loaded) == field.show(model));
    es::fuzz::check_accepted(*loaded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    for (const auto& field : es::config_fields()) fuzz_one_field(field, input);
    fuzz_split(input);
    return 0;
}
