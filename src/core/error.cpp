#include <mer/core/error.hpp>

namespace mer {

Error::Error(std::string message) : message_(std::move(message)) { rebuild(); }

void Error::add_context(const std::string& what) {
  // An outer context that an inner one already says ("preprocessing" around "preprocessing sample x")
  // would only make the sentence stutter.
  for (const auto& c : context_)
    if (c.rfind(what, 0) == 0) return;
  context_.push_back(what);
  rebuild();
}

void Error::rebuild() {
  full_ = message_;
  for (const auto& c : context_) full_ += " (while " + c + ")";
}

}  // namespace mer
