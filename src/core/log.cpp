#include <mer/core/error.hpp>
#include <mer/core/log.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace mer {

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> log = [] {
    auto existing = spdlog::get("mer");
    if (existing) return existing;
    auto l = spdlog::stderr_color_mt("mer");
    l->set_pattern("[%H:%M:%S] %^%l%$ %v");
    return l;
  }();
  return log;
}

void set_log_level(const std::string& level) {
  static const char* names[] = {"trace", "debug", "info", "warn", "error", "off"};
  static const spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                                                     spdlog::level::warn,  spdlog::level::err,   spdlog::level::off};
  for (int i = 0; i < 6; ++i)
    if (level == names[i]) return logger()->set_level(levels[i]);
  throw ValueError("unknown log level '" + level + "'; expected trace, debug, info, warn, error or off");
}

}  // namespace mer
