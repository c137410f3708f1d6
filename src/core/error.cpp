#include <mer/core/error.hpp>

namespace mer {

Error::Error(std::string message) : message_(std::move(message)) { rebuild(); }

void Error::add_context(const std::string& what) {
  context_.push_back(what);
  rebuild();
}

void Error::rebuild() {
  full_ = message_;
  for (const auto& c : context_) full_ += " (while " + c + ")";
}

}  // namespace mer
