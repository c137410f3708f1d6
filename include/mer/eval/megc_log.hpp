#pragma once
/// The MEGC2019 organisers' prediction log: for each test subject a header line "<database> <subject>",
/// then one line per sample "<file> <true label> <predicted label>" (labels 0 negative, 1 positive,
/// 2 surprise, as in the official list), e.g.
///
///   casme2 sub01
///   EP02_01f 1 1
///   EP19_05f 0 0
///   smic s01
///   s01_ne_01 0 2
///
/// Every run over more than one source (a composite) writes one (megc2019_log.txt); `mer eval --megc-log`
/// scores any such log with the pooled MEGC2019 definitions, overall and per database.
#include <mer/eval/predictions.hpp>
#include <mer/eval/report.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mer {

/// The log of `preds` (sample ids "<database>/<subject>/<file>"), subjects in the order their first sample
/// appears. ValueError for an id without three parts.
std::string megc_log(const std::vector<Prediction>& preds);

/// Parses a log; predictions get id "<database>/<subject>/<file>" and fold "<database>/<subject>". DataError
/// naming name:line for a sample line before any header, a line of another shape, a label that is not a
/// whole number in [0, classes), or a sample listed twice.
std::vector<Prediction> parse_megc_log(const std::string& text, const std::string& name, int classes = 3);

/// Reads and scores a log file (classes negative, positive, surprise): pooled UF1/UAR/accuracy and per
/// database. IoError if the file cannot be read.
RunScores score_megc_log(const std::filesystem::path& file);

}  // namespace mer
