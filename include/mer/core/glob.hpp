#pragma once
/// Glob patterns over dotted names (parameter names such as "backbone.layer1.conv.weight"): '*' matches any
/// run of characters, including dots; every other character matches itself. Used by train.param_groups,
/// train.freeze and model.init.skip.
#include <string>

namespace mer {

inline bool glob_match(const char* pattern, const char* text) {
  if (*pattern == '\0') return *text == '\0';
  if (*pattern == '*') return glob_match(pattern + 1, text) || (*text != '\0' && glob_match(pattern, text + 1));
  return *text == *pattern && glob_match(pattern + 1, text + 1);
}

inline bool glob_match(const std::string& pattern, const std::string& text) { return glob_match(pattern.c_str(), text.c_str()); }

}  // namespace mer
