#include <mer/core/error.hpp>
#include <mer/preprocess/stage.hpp>

#include "detail/stages.hpp"

#include <algorithm>
#include <cstdio>

namespace mer {

namespace {
[[noreturn]] void missing_entry(const Item& item, const std::string& key, const char* kind) {
  std::string have;
  for (const auto& n : item.names()) have += (have.empty() ? "" : ", ") + n + (item.has_sequence(n) ? " (sequence)" : "");
  throw InternalError(std::string("item ") + kind + " '" + key +
                      "' is missing (the pipeline's chain check should have caught this); entries: " +
                      (have.empty() ? std::string("none") : have));
}
}  // namespace

const cv::Mat& Item::at(const std::string& key) const {
  auto it = mats.find(key);
  if (it == mats.end()) missing_entry(*this, key, "entry");
  return it->second;
}

cv::Mat& Item::at(const std::string& key) {
  auto it = mats.find(key);
  if (it == mats.end()) missing_entry(*this, key, "entry");
  return it->second;
}

const std::vector<cv::Mat>& Item::seq(const std::string& key) const {
  auto it = sequences.find(key);
  if (it == sequences.end()) missing_entry(*this, key, "sequence");
  return it->second;
}

std::vector<cv::Mat>& Item::seq(const std::string& key) {
  auto it = sequences.find(key);
  if (it == sequences.end()) missing_entry(*this, key, "sequence");
  return it->second;
}

void Item::set(const std::string& key, cv::Mat value) {
  sequences.erase(key);
  mats[key] = std::move(value);
}

void Item::set_sequence(const std::string& key, std::vector<cv::Mat> value) {
  mats.erase(key);
  sequences[key] = std::move(value);
}

std::vector<cv::Mat> Item::frames(const std::string& key) const {
  if (has_sequence(key)) return seq(key);
  return {at(key)};
}

void Item::set_frames(const std::string& key, std::vector<cv::Mat> frames) {
  if (has_sequence(key)) {
    set_sequence(key, std::move(frames));
    return;
  }
  if (frames.size() != 1) {
    throw InternalError(detail::concat("item entry '", key, "' is a single frame; cannot store ", frames.size(),
                                       " frames in it"));
  }
  set(key, std::move(frames.front()));
}

std::vector<std::string> Item::names() const {
  std::vector<std::string> out;
  for (const auto& kv : mats) out.push_back(kv.first);
  for (const auto& kv : sequences) out.push_back(kv.first);
  std::sort(out.begin(), out.end());
  return out;
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

}  // namespace mer
