#pragma once
/// Apex spotting measured against annotated apexes: how far the spotted apex of each clip lies from the
/// one the dataset gives, per sample and in summary. `mer spot` prints and saves it.
///
///   mer spot --config configs/casme2.yaml --method frequency --out runs/spot
///
/// Only samples with a real annotated apex count: apex < 0, or an apex that a quirk policy made up
/// (midpoint, clamp, missing_offset: apex), is listed as skipped with the reason.
#include <mer/core/run_context.hpp>
#include <mer/meta/sample.hpp>
#include <mer/preprocess/temporal.hpp>

#include <string>
#include <utility>
#include <vector>

namespace mer {

struct ApexReportOptions {
  /// The spotting method and its parameters (as the apex_spot stage's).
  ApexSpotParams spot;
  /// "frame": whole frames; "face": inside the largest face dlib's HOG detector finds in the onset frame.
  std::string region = "frame";
  /// Frames are compared at this width (pixels), as in the apex_spot stage.
  int width = 64;
  /// The summary gives the share of samples whose spotted apex is within each of these many frames.
  std::vector<int> tolerances = {0, 3, 6};
};

struct ApexReportRow {
  std::string id;
  int onset = -1;
  int offset = -1;
  int annotated = -1;
  int spotted = -1;
  /// spotted - annotated, in frames.
  int error = 0;
};

struct ApexReport {
  /// One row per spotted sample, in the samples' order.
  std::vector<ApexReportRow> rows;
  /// Samples left out (no annotated apex, unreadable frames, no face), with the reason.
  std::vector<SkipRecord> skipped;
  /// Mean |spotted - annotated| in frames (0 when no rows).
  double mean_abs_error = 0;
  /// (k, share of rows with |error| <= k) for each of the options' tolerances.
  std::vector<std::pair<int, double>> within;
  /// Mean of |error| / clip length (offset - onset + 1): the error as a share of the clip.
  double mean_relative_error = 0;
};

/// Spots the apex of every sample (reading onset..offset from disk) with ctx.threads workers and compares
/// it with the annotation. Per-sample failures become skip records; ValueError for bad options (unknown
/// method, width < 8, unknown region).
ApexReport spot_annotated_apexes(const std::vector<SampleMeta>& samples, const ApexReportOptions& options,
                                 const RunContext& ctx);

/// apex_spotting.csv: id,onset,offset,annotated,spotted,error, one line per row.
std::string apex_report_csv(const ApexReport& report);
/// A short text table: the summary, then up to `max_rows` rows with the largest errors.
std::string apex_report_text(const ApexReport& report, const std::string& method, std::size_t max_rows = 10);

}  // namespace mer
