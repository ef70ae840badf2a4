// rocksdb::Status to errc.
#include "storage/rocksdb_error.h"

#include <string>

#include "common/assert.h"

namespace es::storage {

error from_rocksdb(const rocksdb::Status& s, std::string_view context) {
    ES_ASSERT(!s.ok());
    std::string message(context);
    message += ": ";
    if (s.IsCorruption()) message += "corrupt data: ";
    if (s.IsNoSpace()) message += "no space left on device: ";
    message += s.ToString();
    errc code = errc::io_error;
    switch (s.code()) {
        case rocksdb::Status::kNotFound:
            code = errc::not_found;
            break;
        case rocksdb::Status::kInvalidArgument:
            code = errc::invalid_argument;
            break;
        case rocksdb::Status::kNotSupported:
            code = errc::not_supported;
            break;
        case rocksdb::Status::kTimedOut:
            code = errc::timed_out;
            break;
        case rocksdb::Status::kShutdownInProgress:
            code = errc::shutting_down;
            break;
        default:  // corruption, I/O errors, busy, aborted, incomplete, ...
            code = errc::io_error;
            break;
    }
    return make_error(code, std::move(message));
}

}  // namespace es::storage
