// Apex spotting scored against annotated apexes (apex_report.hpp).
#include <mer/core/error.hpp>
#include <mer/data/frames.hpp>
#include <mer/preprocess/apex_report.hpp>
#include <mer/preprocess/face.hpp>

#include "detail/workers.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <optional>

namespace mer {

namespace {

// A quirk policy that replaced the apex (midpoint, clamp, missing_offset: apex) leaves a number that is
// not an annotation; scoring a spotter against it would measure the policy.
std::optional<std::string> made_up_apex(const SampleMeta& s) {
  for (const auto& q : s.quirks)
    if (q.find("apex") != std::string::npos && q.find("->") != std::string::npos) return q;
  return std::nullopt;
}

struct Outcome {
  std::optional<ApexReportRow> row;
  std::optional<SkipRecord> skip;
};

Outcome spot_one(const SampleMeta& s, const ApexReportOptions& o, const HogFaceDetector* detector) {
  Outcome out;
  auto skip = [&](std::string reason) {
    out.skip = SkipRecord{s.id, "apex_spot", std::move(reason)};
    return out;
  };
  if (s.apex < 0) return skip("no annotated apex");
  if (const auto q = made_up_apex(s)) return skip("apex not annotated: " + *q);
  if (s.offset <= s.onset) return skip(detail::concat("onset ", s.onset, " and offset ", s.offset, " leave no frames"));
  try {
    std::vector<cv::Mat> frames;
    for (int n = s.onset; n <= s.offset; ++n) frames.push_back(load_frame(s, n, ColorMode::Gray));
    cv::Rect roi;
    if (detector) {
      const auto face = detector->detect_largest(frames.front());
      if (!face) return skip("no face found in the onset frame");
      roi = cv::Rect(face->box);
    }
    const auto index = spot_apex(spotting_frames(frames, roi, o.width), o.spot);
    ApexReportRow row;
    row.id = s.id;
    row.onset = s.onset;
    row.offset = s.offset;
    row.annotated = s.apex;
    row.spotted = s.onset + static_cast<int>(index);
    row.error = row.spotted - row.annotated;
    out.row = row;
  } catch (const DataError& e) {
    return skip(e.message());
  }
  return out;
}


}  // namespace

ApexReport spot_annotated_apexes(const std::vector<SampleMeta>& samples, const ApexReportOptions& options,
                                 const RunContext& ctx) {
  MER_CHECK(options.region == "frame" || options.region == "face", ValueError,
            "apex report: region must be frame or face, got '", options.region, "'");
  MER_CHECK(options.width >= 8, ValueError, "apex report: width must be >= 8, got ", options.width);
  const std::vector<std::string> methods = {"frame_difference", "flow_magnitude", "frequency", "feature_difference"};
  MER_CHECK(std::find(methods.begin(), methods.end(), options.spot.method) != methods.end(), ValueError,
            "apex report: unknown method '", options.spot.method,
            "' (frame_difference, flow_magnitude, frequency, feature_difference)");
  std::optional<HogFaceDetector> detector;
  if (options.region == "face") detector.emplace();

  std::vector<Outcome> outcomes(samples.size());
  std::atomic<std::size_t> next{0};
  std::exception_ptr first_error;
  std::mutex mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < samples.size(); i = next++) {
      try {
        outcomes[i] = spot_one(samples[i], options, detector ? &*detector : nullptr);
      } catch (Error& e) {
        e.add_context("spotting the apex of sample " + samples[i].id);
        std::lock_guard<std::mutex> lock(mutex);
        if (!first_error) first_error = std::current_exception();
        next = samples.size();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!first_error) first_error = std::current_exception();
        next = samples.size();
      }
    }
  };
  detail::run_workers(RunContext::resolve_threads(ctx.threads), samples.size(), work);
  if (first_error) std::rethrow_exception(first_error);

  ApexReport report;
  for (auto& o : outcomes) {
    if (o.row) report.rows.push_back(*o.row);
    if (o.skip) report.skipped.push_back(*o.skip);
  }
  const double n = double(report.rows.size());
  for (const int k : options.tolerances) {
    std::size_t hits = 0;
    for (const auto& r : report.rows) hits += std::abs(r.error) <= k;
    report.within.emplace_back(k, n > 0 ? double(hits) / n : 0.0);
  }
  for (const auto& r : report.rows) {
    report.mean_abs_error += std::abs(r.error) / n;
    report.mean_relative_error += std::abs(r.error) / double(r.offset - r.onset + 1) / n;
  }
  return report;
}

std::string apex_report_csv(const ApexReport& report) {
  std::string out = "id,onset,offset,annotated,spotted,error\n";
  for (const auto& r : report.rows) {
    // Sample ids are dataset/subject/clip names; quote them in case a dataset uses commas.
    std::string id = r.id;
    if (id.find_first_of(",\"\n") != std::string::npos) {
      std::string q = "\"";
      for (const char c : id) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      id = q + "\"";
    }
    out += detail::concat(id, ",", r.onset, ",", r.offset, ",", r.annotated, ",", r.spotted, ",", r.error, "\n");
  }
  return out;
}

std::string apex_report_text(const ApexReport& report, const std::string& method, std::size_t max_rows) {
  char buf[256];
  std::string out;
  std::snprintf(buf, sizeof buf, "apex spotting (%s): %zu samples, %zu skipped\n", method.c_str(), report.rows.size(),
                report.skipped.size());
  out += buf;
  std::snprintf(buf, sizeof buf, "mean |error| %.2f frames (%.1f%% of the clip)", report.mean_abs_error,
                100.0 * report.mean_relative_error);
  out += buf;
  for (const auto& [k, share] : report.within) {
    std::snprintf(buf, sizeof buf, "   within %d: %.1f%%", k, 100.0 * share);
    out += buf;
  }
  out += "\n";
  auto rows = report.rows;
  std::stable_sort(rows.begin(), rows.end(),
                   [](const ApexReportRow& a, const ApexReportRow& b) { return std::abs(a.error) > std::abs(b.error); });
  if (rows.size() > max_rows) rows.resize(max_rows);
  if (!rows.empty()) {
    std::snprintf(buf, sizeof buf, "%-36s %7s %7s %9s %7s %6s\n", "largest errors", "onset", "offset", "annotated",
                  "spotted", "error");
    out += buf;
  }
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%-36s %7d %7d %9d %7d %+6d\n", r.id.c_str(), r.onset, r.offset, r.annotated,
                  r.spotted, r.error);
    out += buf;
  }
  return out;
}

}  // namespace mer
