#include <mer/core/error.hpp>
#include <mer/preprocess/stage.hpp>

#include "detail/stages.hpp"

#include <algorithm>
#include <cstdio>

namespace mer {

namespace {
[[noreturn]] void missing_entry(const Item& item, const std::string& key) {
  std::string have;
  for (const auto& kv : item.mats) have += (have.empty() ? "" : ", ") + kv.first;
  throw InternalError("item entry '" + key + "' is missing (the pipeline's chain check should have caught this); entries: " +
                      (have.empty() ? std::string("none") : have));
}
}  // namespace

const cv::Mat& Item::at(const std::string& key) const {
  auto it = mats.find(key);
  if (it == mats.end()) missing_entry(*this, key);
  return it->second;
}

cv::Mat& Item::at(const std::string& key) {
  auto it = mats.find(key);
  if (it == mats.end()) missing_entry(*this, key);
  return it->second;
}

const StageRegistry& builtin_stages() {
  // Built once on first use and never modified afterwards, so sharing it between threads is safe.
  static const StageRegistry registry = [] {
    StageRegistry r("stage");
    register_builtin_stages(r);
    return r;
  }();
  return registry;
}

namespace detail {

std::string fingerprint_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string fingerprint_value(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out + "]";
}

std::string stage_fingerprint(const std::string& type, const std::string& version,
                              const std::vector<std::pair<std::string, std::string>>& options) {
  std::string out = type + "(" + version;
  for (const auto& [k, v] : options) out += "; " + k + "=" + v;
  return out + ")";
}


}  // namespace detail

}  // namespace mer
