#pragma once
/// libmer logs through one spdlog logger named "mer" (to stderr); the library never writes to stdout.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace mer {

/// The "mer" logger, created on first use (stderr, colour on a TTY).
std::shared_ptr<spdlog::logger> logger();
/// Sets the level from a name: trace, debug, info, warn, error, off. Unknown → ValueError.
void set_log_level(const std::string& level);

}  // namespace mer
