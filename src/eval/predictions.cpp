#include <mer/core/error.hpp>
#include <mer/eval/predictions.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/meta/table.hpp>

#include <algorithm>
#include <cstdio>

namespace mer {

std::string predictions_to_csv(const std::vector<Prediction>& preds, const std::vector<std::string>& classes) {
  std::string out = "sample_id,subject,fold,true_label,pred_label";
  for (const auto& c : classes) out += ",p_" + csv_escape(c);
  out += "\n";
  char buf[32];
  for (const auto& p : preds) {
    MER_CHECK(p.true_label >= 0 && p.true_label < int(classes.size()) && p.pred_label >= 0 &&
                  p.pred_label < int(classes.size()),
              InternalError, "prediction for ", p.sample_id, " has a label outside the ", classes.size(), " classes");
    out += csv_escape(p.sample_id) + "," + csv_escape(p.subject) + "," + csv_escape(p.fold) + "," +
           csv_escape(classes[p.true_label]) + "," + csv_escape(classes[p.pred_label]);
    for (float v : p.probs) {
      std::snprintf(buf, sizeof buf, ",%.6f", v);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

std::vector<Prediction> predictions_from_csv(const std::string& text, const std::string& name,
                                             const std::vector<std::string>& classes) {
  const auto table = Table::parse_csv(text, name);
  const auto c_id = table.column("sample_id"), c_subject = table.column("subject"), c_fold = table.column("fold"),
             c_true = table.column("true_label"), c_pred = table.column("pred_label");
  std::vector<std::size_t> c_prob;
  for (const auto& c : classes) c_prob.push_back(table.column("p_" + c));
  auto class_index = [&](const std::string& cell, std::size_t r, const char* col) {
    auto it = std::find(classes.begin(), classes.end(), cell);
    if (it == classes.end())
      throw DataError(table.where(r) + ": " + col + " '" + cell + "' is not one of the run's classes");
    return int(it - classes.begin());
  };
  std::vector<Prediction> out;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    Prediction p;
    p.sample_id = row[c_id];
    p.subject = row[c_subject];
    p.fold = row[c_fold];
    p.true_label = class_index(row[c_true], r, "true_label");
    p.pred_label = class_index(row[c_pred], r, "pred_label");
    for (auto c : c_prob) {
      try {
        p.probs.push_back(std::stof(row[c]));
      } catch (const std::exception&) {
        throw DataError(table.where(r) + ": probability '" + row[c] + "' is not a number");
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> predictions_classes(const std::filesystem::path& file) {
  const auto table = Table::parse_csv(read_file(file), file.string());
  const auto first = table.column("pred_label") + 1;
  std::vector<std::string> classes;
  for (auto c = first; c < table.header.size(); ++c) {
    const auto h = trim(table.header[c]);
    if (h.rfind("p_", 0) != 0) throw DataError(file.string() + ":1: expected p_<class> columns after pred_label, got '" + h + "'");
    classes.push_back(h.substr(2));
  }
  if (classes.empty()) throw DataError(file.string() + ":1: no p_<class> columns");
  return classes;
}

std::vector<Prediction> read_predictions(const std::filesystem::path& file, const std::vector<std::string>& classes) {
  return predictions_from_csv(read_file(file), file.string(), classes);
}

}  // namespace mer
