#include <mer/core/run_context.hpp>

#include <thread>

namespace mer {

int RunContext::resolve_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace mer
