#pragma once
/// Comparing finished runs: their scores side by side, what differs in their resolved configs, and a
/// paired test across subjects (`mer report compare RUN...`).
///
/// Paired test: each run's per-subject scores (RunScores::subjects, from its predictions.csv) on the
/// subjects both runs predicted, compared with the exact two-sided Wilcoxon signed-rank test. Subjects,
/// not samples, are the unit because LOSO predictions of one subject share one model and are not
/// independent.
#include <mer/eval/report.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mer {

struct WilcoxonResult {
  int n = 0;              ///< pairs with a non-zero difference (zero differences are dropped)
  int zeros = 0;          ///< pairs dropped because both runs scored the same
  double w_plus = 0, w_minus = 0;  ///< rank sums of positive (a > b) and negative differences
  double p_value = 1.0;   ///< two-sided, exact (1 when n == 0)
};

/// Exact two-sided Wilcoxon signed-rank test of a[i] - b[i]. Zero differences are dropped (Wilcoxon's
/// original treatment), tied |differences| get their mean rank, and the p-value is exact: the null
/// distribution of W+ is enumerated over all 2^n sign patterns of the (tied) ranks by dynamic programming,
/// so it holds for any n and with ties. ValueError if the sizes differ.
WilcoxonResult wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b);

/// One run as read back from its folder.
struct RunRecord {
  std::filesystem::path dir;
  std::string label;        ///< the run folder's name
  RunScores scores;         ///< from predictions.csv
  std::string config;       ///< config.resolved.yaml ("" if absent)
  /// protocol.repeats runs: mean and standard deviation over repeats (metrics.json "repeats").
  std::optional<double> uf1_mean, uf1_std, uar_mean, uar_std;
  bool optimistic = false;  ///< the run used protocol.select_on_test (its honest numbers are compared)
};

/// Reads a finished run (predictions.csv, config.resolved.yaml, metrics.json). DataError naming the folder
/// and the missing file for an unfinished or foreign folder.
RunRecord read_run(const std::filesystem::path& dir);

struct PairedTest {
  std::string a, b;         ///< run labels (b is the first run, the baseline)
  std::string metric;       ///< "uf1" or "accuracy"
  int subjects = 0;         ///< subjects both runs predicted
  double mean_a = 0, mean_b = 0;  ///< mean per-subject score over those subjects
  WilcoxonResult test;
};

struct Comparison {
  std::vector<RunRecord> runs;
  /// Config keys (dotted paths) whose values differ between runs, with each run's value ("-" if absent).
  std::vector<std::pair<std::string, std::vector<std::string>>> config_differences;
  std::vector<PairedTest> tests;  ///< every run against the first
};

/// At least two runs with the same classes (ValueError otherwise). `metric` is the per-subject score of the
/// paired test: uf1 or accuracy.
Comparison compare_runs(const std::vector<std::filesystem::path>& dirs, const std::string& metric = "uf1");

/// compare.md: headline table (pooled UF1, UAR, accuracy, mean ± sd over repeats), per-source and per-class
/// F1 tables, paired tests, config differences; `chart` is the bar chart's file name to embed ("" for none).
std::string comparison_markdown(const Comparison& c, const std::string& chart);

}  // namespace mer
