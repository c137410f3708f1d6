#include "support/native_trees.hpp"

#include <mer/data/megc2019.hpp>
#include <mer/meta/table.hpp>

#include <opencv2/imgcodecs.hpp>

#include <fstream>
#include <set>
#include <stdexcept>

#include "support/test_paths.hpp"
#include "support/xlsx_writer.hpp"

namespace mer::test {
namespace fs = std::filesystem;

namespace {

// One tiny image per tree, linked to every frame path: thousands of frames cost no disk and no time.
class FrameWriter {
 public:
  FrameWriter(const fs::path& root, const std::string& ext) : template_(root / (".frame-template" + ext)) {
    fs::create_directories(root);
    std::vector<uchar> bytes;
    cv::imencode(ext, cv::Mat(8, 8, CV_8UC3, cv::Scalar(90, 120, 150)), bytes);
    std::ofstream out(template_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + template_.string());
  }
  ~FrameWriter() {
    std::error_code ec;
    fs::remove(template_, ec);
  }
  void write(const fs::path& path) const {
    fs::create_directories(path.parent_path());
    std::error_code ec;
    fs::create_hard_link(template_, path, ec);
    if (ec) fs::copy_file(template_, path, fs::copy_options::overwrite_existing);
  }

 private:
  fs::path template_;
};

std::set<int> frames_of(int onset, int apex, int offset, TreeFrames which) {
  std::set<int> out;
  if (which == TreeFrames::All) {
    for (int f = onset; f <= offset; ++f) out.insert(f);
  } else {
    out = {onset, offset, (onset + offset) / 2};
  }
  if (apex >= 0) out.insert(apex);
  return out;
}

std::string pad(int n, std::size_t width) {
  auto s = std::to_string(n);
  return s.size() < width ? std::string(width - s.size(), '0') + s : s;
}

}  // namespace

void write_casme2_tree(const fs::path& root, TreeFrames which) {
  const auto table = annotations_dir() / "casme2_coding.csv";
  fs::create_directories(root / "CASME2_RAW_selected");
  // Both forms the adapter reads: the workbook as distributed and a CSV export.
  fs::copy_file(table, root / "CASME2-coding-20140508.csv", fs::copy_options::overwrite_existing);
  write_xlsx(root / "CASME2-coding-20140508.xlsx", {XlsxSheet{"Sheet1", Table::read(table, false).rows, {}}});
  const FrameWriter frames(root, ".jpg");
  const auto t = Table::read(table);
  for (const auto& cells : t.rows) {
    const auto clip = root / "CASME2_RAW_selected" / ("sub" + cells[t.column("Subject")]) / cells[t.column("Filename")];
    // ApexFrame "/" (sub04/EP12_01f) gives -1: the midpoint frame is written anyway.
    const int apex = parse_int_cell(cells[t.column("ApexFrame")]).value_or(-1);
    for (int f : frames_of(*parse_int_cell(cells[t.column("OnsetFrame")]), apex,
                           *parse_int_cell(cells[t.column("OffsetFrame")]), which))
      frames.write(clip / ("img" + std::to_string(f) + ".jpg"));
  }
}

void write_samm_tree(const fs::path& root, TreeFrames which) {
  const auto file = annotations_dir() / "samm_coding.csv";
  fs::create_directories(root / "SAMM");
  // The workbook as distributed: sheet MICRO_ONLY with its 13 preamble rows above the header.
  const auto sheet = Table::read(annotations_dir() / "samm_coding_full_sheet.csv", /*has_header=*/false);
  write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", {XlsxSheet{"MICRO_ONLY", sheet.rows, {}}});
  const auto table = Table::read(file);
  const FrameWriter frames(root, ".jpg");
  for (const auto& cells : table.rows) {
    const auto subject = trim(cells[table.column("Subject")]);
    const auto clip = root / "SAMM" / subject / trim(cells[table.column("Filename")]);
    const int onset = *parse_int_cell(cells[table.column("Onset Frame")]);
    const int offset = *parse_int_cell(cells[table.column("Offset Frame")]);
    const int apex = parse_int_cell(cells[table.column("Apex Frame")]).value_or(-1);
    // An apex outside the clip is a table error, not a frame of it.
    const int kept_apex = apex >= onset && apex <= offset ? apex : -1;
    for (int f : frames_of(onset, kept_apex, offset, which)) frames.write(clip / (subject + "_" + pad(f, 5) + ".jpg"));
  }
}

void write_smic_tree(const fs::path& root) {
  const auto file = annotations_dir() / "smic_hs.csv";
  const auto camera = root / "SMIC_all_raw" / "HS";
  fs::create_directories(camera);
  fs::copy_file(file, root / "smic_hs.csv", fs::copy_options::overwrite_existing);
  const auto table = Table::read(file, /*has_header=*/false);
  const char* const emotion[] = {"", "positive", "negative", "surprise"};
  const FrameWriter frames(root, ".bmp");
  for (const auto& cells : table.rows) {
    const auto subject = megc2019_disk_subject("smic", trim(cells[0]));
    const auto clip = camera / subject / "micro" / emotion[*parse_int_cell(cells[5])] /
                      megc2019_disk_clip("smic", trim(cells[1]));
    const int onset = *parse_int_cell(cells[2]);
    const int offset = *parse_int_cell(cells[4]);
    for (int f = onset; f <= offset; ++f) frames.write(clip / ("image" + pad(f, 6) + ".bmp"));
  }
}

}  // namespace mer::test
