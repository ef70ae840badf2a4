// libFuzzer target for the YAML configuration file: the input is written to a temporary file
// and loaded as `--config FILE` with an empty environment. A bad file must give a config_error,
// never a crash, an uncaught exception or a hang.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/assert.h"
#include "common/config.h"
#include "config_checks.h"

// The file goes to yaml-cpp whole, through std::ifstream, so there is no chunk boundary here
// for our code to mishandle; config_field_fuzz feeds configuration text in split chunks.

namespace {

// One file per process, so that parallel fuzzing jobs (-jobs, -fork) keep apart. Allocated
// once and never freed, so that the exit handler that removes the file can still name it.
const std::string& file_path() {
    static const std::string* path = [] {
        const auto name = "es_config_fuzz." + std::to_string(::getpid()) + ".yaml";
        auto* p = new std::string((std::filesystem::temp_directory_path() / name).string());
        std::atexit([] { std::remove(file_path().c_str()); });
        return p;
    }();
    return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string& path = file_path();
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        ES_ASSERT_MSG(out.good(), "cannot write the input to a temporary file");
    }
    const auto config = es::load_config({{"config", path}}, es::fuzz::empty_environment());
    if (config) {
        ES_ASSERT(config->config_file == path);
        es::fuzz::check_accepted(*config);
    } else {
        es::fuzz::check_refused(config.err());
    }
    return 0;
}
