// Credit-based flow control, subscriber side: the server may send a partition's events only
// against credit in events and bytes. The consumer grants a window at subscribe time and tops
// it up as the application takes events, in grants of at least half the window so that CREDIT
// frames stay few.
#pragma once

#include <cstdint>
#include <optional>

namespace es::client {

class credit_window {
  public:
    struct grant {
        uint32_t events = 0;
        uint64_t bytes = 0;
    };

    credit_window(uint32_t window_events, uint64_t window_bytes)
        : window_events_(window_events), window_bytes_(window_bytes) {}

    // The application took one event of `bytes` (its record size). Returns the credit to grant
    // now, when the taken events or bytes reach half the window.
    std::optional<grant> consumed(uint64_t bytes) noexcept {
        ++taken_events_;
        taken_bytes_ += bytes;
        if (taken_events_ * 2 < window_events_ && taken_bytes_ * 2 < window_bytes_)
            return std::nullopt;
        grant g{taken_events_, taken_bytes_};
        taken_events_ = 0;
        taken_bytes_ = 0;
        return g;
    }
    // A new subscription starts with the whole window granted.
    void reset() noexcept { taken_events_ = 0, taken_bytes_ = 0; }

  private:
    uint32_t window_events_;
    uint64_t window_bytes_;
    uint32_t taken_events_ = 0;
    uint64_t taken_bytes_ = 0;
};

}  // namespace es::client
