#include <mer/core/error.hpp>
#include <mer/eval/megc_log.hpp>
#include <mer/io/atomic_file.hpp>

#include <map>
#include <set>
#include <sstream>

namespace mer {

namespace {

std::vector<std::string> split_ws(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

}  // namespace

std::string megc_log(const std::vector<Prediction>& preds) {
  // Subjects in order of first appearance, their samples in the order given.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Prediction*>> by_subject;
  for (const auto& p : preds) {
    const auto a = p.sample_id.find('/');
    const auto b = a == std::string::npos ? a : p.sample_id.find('/', a + 1);
    MER_CHECK(b != std::string::npos, ValueError, "sample id '", p.sample_id,
              "' is not <database>/<subject>/<file>, so it cannot go into a MEGC2019 log");
    const auto key = p.sample_id.substr(0, b);
    if (!by_subject.count(key)) order.push_back(key);
    by_subject[key].push_back(&p);
  }
  std::string out;
  for (const auto& key : order) {
    out += key.substr(0, key.find('/')) + " " + key.substr(key.find('/') + 1) + "\n";
    for (const auto* p : by_subject[key])
      out += p->sample_id.substr(key.size() + 1) + " " + std::to_string(p->true_label) + " " +
             std::to_string(p->pred_label) + "\n";
  }
  return out;
}

std::vector<Prediction> parse_megc_log(const std::string& text, const std::string& name, int classes) {
  std::vector<Prediction> out;
  std::set<std::string> seen;
  std::string database, subject;
  std::istringstream in(text);
  int line_no = 0;
  const auto label = [&](const std::string& t, const char* what) {
    std::size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MER_CHECK(used == t.size() && v >= 0 && v < classes, DataError, name, ":", line_no, ": the ", what, " label '", t,
              "' is not a class index in 0..", classes - 1);
    return v;
  };
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // logs written on Windows
    const auto t = split_ws(line);
    if (t.empty() || t[0][0] == '#') continue;  // blank lines and comments (libmer stamps optimistic logs)
    if (t.size() == 2) {
      database = t[0];
      subject = t[1];
      continue;
    }
    MER_CHECK(t.size() == 3, DataError, name, ":", line_no, ": expected '<database> <subject>' or '<file> <true label> ",
              "<predicted label>', got ", t.size(), " fields: '", line, "'");
    MER_CHECK(!database.empty(), DataError, name, ":", line_no, ": sample '", t[0],
              "' comes before any '<database> <subject>' line");
    Prediction p;
    p.sample_id = database + "/" + subject + "/" + t[0];
    p.subject = database + "/" + subject;
    p.fold = p.subject;
    p.true_label = label(t[1], "true");
    p.pred_label = label(t[2], "predicted");
    MER_CHECK(seen.insert(p.sample_id).second, DataError, name, ":", line_no, ": sample ", p.sample_id,
              " is listed twice");
    out.push_back(std::move(p));
  }
  MER_CHECK(!out.empty(), DataError, name, ": no prediction in the log");
  return out;
}

RunScores score_megc_log(const std::filesystem::path& file) {
  MER_CHECK(std::filesystem::is_regular_file(file), IoError, "MEGC2019 log '", file.string(), "' does not exist");
  const auto preds = parse_megc_log(read_file(file), file.string());
  return score_predictions(preds, {"negative", "positive", "surprise"});
}

}  // namespace mer
