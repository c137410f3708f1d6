// mer preprocess: fills the feature cache for a config's dataset and pipeline, and optionally draws
// contact sheets of a few samples and exports the features as NumPy arrays.
#include "preprocess_setup.hpp"

#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/eval/report.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/io/npy.hpp>
#include <mer/meta/table.hpp>
#include <mer/preprocess/regions.hpp>
#include <mer/viz/contact_sheet.hpp>

#include <mer/models/stages.hpp>

#include <opencv2/core.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

namespace mer::cli {

namespace fs = std::filesystem;

std::filesystem::path default_cache_dir() {
  const auto config = Config::from_string("runtime: {}", "<defaults>");
  return RuntimeOptions::from_config(config.root().child("runtime")).cache_dir;
}

PreprocessSetup load_preprocess_setup(const ConfigArgs& args, bool with_dataset) {
  auto config = Config::load(args.config, args.overrides());
  const auto written = config.dump();  // variants are rebuilt from the document as written
  const auto root = config.root();
  auto runtime = RuntimeOptions::from_config(root.child("runtime"));
  auto pipeline = std::make_unique<Pipeline>(Pipeline::from_config(root.child("preprocess"), all_stages()));
  const auto variant_specs = read_variant_specs(root.child("preprocess"));
  std::vector<std::string> unread;
  for (const auto& key : root.keys()) {
    if (key != "runtime" && key != "preprocess" && key != "dataset") unread.push_back(key);
  }
  if (!with_dataset) unread.push_back("dataset");
  // A typo in the sections read is reported before the dataset touches the disk.
  auto before_dataset = unread;
  before_dataset.push_back("dataset");
  config.check_all_used(before_dataset);
  auto variants = build_variants(written, variant_specs, *pipeline, all_stages());
  std::unique_ptr<Dataset> dataset;
  if (with_dataset) {
    if (!root.has("dataset")) throw ConfigError(args.config + ": no 'dataset:' section; mer preprocess reads it");
    dataset = builtin_datasets().build(root.child("dataset"));
    config.check_all_used(unread);
  }
  return PreprocessSetup{std::move(config), std::move(runtime), std::move(pipeline), std::move(variants),
                         std::move(dataset)};
}

namespace {

struct PreprocessArgs {
  ConfigArgs config;
  std::string out;
  int visualize = 0;
  std::vector<std::string> samples;
  std::string export_npy;
  std::string heatmap;
  bool no_cache = false;
};

// Letters, digits, '-', '_' and '.' kept, anything else '_': a sample id as one file name on any system.
std::string safe_name(const std::string& id) {
  std::string out;
  for (char ch : id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '.';
    out += ok ? ch : '_';
  }
  return out.empty() || out[0] == '.' ? "_" + out : out;
}

std::vector<SampleMeta> select_samples(const Dataset& dataset, const std::vector<std::string>& ids) {
  if (ids.empty()) return dataset.samples();
  std::vector<SampleMeta> out;
  for (const auto& id : ids) {
    const auto& all = dataset.samples();
    const auto it = std::find_if(all.begin(), all.end(), [&](const SampleMeta& s) { return s.id == id; });
    if (it == all.end()) {
      throw CLI::ValidationError("--samples", detail::concat("sample '", id, "' is not in the dataset ", dataset.name(),
                                                              " (", all.size(), " samples, the first: ",
                                                              all.empty() ? std::string("none") : all.front().id, ")"));
    }
    out.push_back(*it);
  }
  return out;
}

void visualize(const PreprocessSetup& setup, const std::vector<SampleMeta>& samples, int n, const fs::path& out) {
  ContactSheet sheet;
  const auto count = std::min<std::size_t>(samples.size(), static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < count; ++i) {
    sheet.begin_row(samples[i]);
    try {
      setup.pipeline->run_one(samples[i], sheet.observer());
    } catch (const SampleError& e) {
      // The sheet is for looking at what goes wrong, too: the row ends where the sample failed.
      sheet.add_note("failed", e.what());
    }
  }
  const auto file = out / "contact_sheet.png";
  sheet.write_png(file);
  std::printf("contact sheet of %zu sample(s): %s\n", count, file.string().c_str());
}

// One .npy per sample and pipeline output (its channels as C x H x W; a sequence output's frames are
// consecutive channel blocks), and index.csv describing them.
void export_npy(const FeatureSet& features, const Dataset& dataset, const fs::path& dir) {
  const auto& classes = dataset.labels().classes();
  std::string index = "sample_id,subject,label,class_index,dataset,output,file,shape\n";
  std::set<std::string> used;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const auto& s = features.samples[i];
    std::string stem = safe_name(s.id);
    // Two ids can map to one name ("a/b" and "a_b"): number the later ones.
    for (int k = 2; used.count(stem); ++k) stem = safe_name(s.id) + "~" + std::to_string(k);
    used.insert(stem);
    for (std::size_t k = 0; k < features.groups.size(); ++k) {
      const auto& g = features.groups[k];
      const auto first = features.inputs[i].begin() + static_cast<std::ptrdiff_t>(features.group_offset(k));
      const std::vector<float> data(first, first + static_cast<std::ptrdiff_t>(features.group_size(g)));
      const std::string file = stem + "__" + safe_name(g.name) + ".npy";
      write_npy(dir / file, {static_cast<std::size_t>(g.channels), static_cast<std::size_t>(features.group_height(g)),
                             static_cast<std::size_t>(features.group_width(g))},
                data);
      const std::string label = s.label >= 0 && s.label < static_cast<int>(classes.size()) ? classes[s.label] : "";
      index += csv_escape(s.id) + "," + csv_escape(s.subject) + "," + csv_escape(label) + "," + std::to_string(s.label) +
               "," + csv_escape(s.dataset) + "," + csv_escape(g.name) + "," + csv_escape(file) + "," +
               detail::concat(g.channels, "x", features.group_height(g), "x", features.group_width(g)) + "\n";
    }
  }
  // Written last and atomically: an index that exists lists only files that exist.
  write_file_atomic(dir / "index.csv", index);
  std::printf("exported %zu sample(s) x %zu output(s) to %s (index.csv)\n", features.size(), features.groups.size(),
              dir.string().c_str());
}

// The motion heat map of the processed samples (mean flow magnitude of the first displacement-field output),
// for `roi: {method: heatmap, heatmap: FILE}`. Label-free, but built from every sample given: for a strictly
// inductive LOSO, build it from the training subjects only (--samples).
void write_motion_heatmap(const FeatureSet& features, const fs::path& file) {
  const auto it = std::find_if(features.groups.begin(), features.groups.end(),
                               [](const FeatureGroup& g) { return g.vector_field; });
  if (it == features.groups.end()) {
    throw ConfigError("--heatmap needs a flow among the pipeline's outputs (a 2-channel displacement field); "
                      "outputs here: " + fmt::format("{}", fmt::join(features.channel_names, ", ")));
  }
  MER_CHECK(features.size() > 0, DataError, "--heatmap: no sample made it through preprocessing");
  const int h = features.group_height(*it), w = features.group_width(*it);
  const auto plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  const auto offset = features.group_offset(static_cast<std::size_t>(it - features.groups.begin()));
  std::vector<cv::Mat> flows;
  for (const auto& x : features.inputs) {
    // Channels are planes: u then v of the group's first field.
    cv::Mat u(h, w, CV_32FC1, const_cast<float*>(x.data() + offset));
    cv::Mat v(h, w, CV_32FC1, const_cast<float*>(x.data() + offset + plane));
    cv::Mat uv;
    cv::merge(std::vector<cv::Mat>{u, v}, uv);
    flows.push_back(uv);
  }
  write_heatmap(file, motion_heatmap(flows));
  std::printf("motion heat map of '%s' over %zu sample(s) (label-free, every sample given): %s\n", it->name.c_str(),
              features.size(), file.string().c_str());
}

void run_preprocess(const PreprocessArgs& a) {
  const auto setup = load_preprocess_setup(a.config, true);
  const auto samples = select_samples(*setup.dataset, a.samples);
  const fs::path out = a.out.empty() ? fs::path(".") : fs::path(a.out);
  if (a.visualize > 0) visualize(setup, samples, a.visualize, out);

  auto ctx = setup.runtime.context();
  if (a.no_cache) ctx.cache_dir.clear();
  std::printf("%s: %zu sample(s), pipeline %s, cache %s\n", setup.dataset->name().c_str(), samples.size(),
              setup.pipeline->fingerprint().c_str(),
              ctx.cache_dir.empty() ? "off" : (ctx.cache_dir / setup.pipeline->fingerprint()).string().c_str());
  std::fflush(stdout);
  PipelineStats stats;
  const auto features = setup.pipeline->run(samples, ctx, &stats);
  std::vector<SkipRecord> skipped = a.samples.empty() ? setup.dataset->excluded() : std::vector<SkipRecord>{};
  skipped.insert(skipped.end(), features.skipped.begin(), features.skipped.end());
  std::printf("computed %zu, from cache %zu, skipped %zu (%zu by the dataset, %zu by preprocessing), %.1f s\n",
              stats.computed, stats.cached, skipped.size(), skipped.size() - features.skipped.size(),
              features.skipped.size(), stats.wall_seconds);
  if (features.size() > 0) {
    std::printf("features: %d channels (", features.channels);
    for (std::size_t g = 0; g < features.groups.size(); ++g) {
      const auto& gr = features.groups[g];
      std::printf("%s%s %d", g ? ", " : "", gr.name.c_str(), gr.channels);
      if (!features.uniform()) std::printf(" at %dx%d", features.group_width(gr), features.group_height(gr));
    }
    if (features.uniform()) std::printf(") x %d x %d\n", features.height, features.width);
    else std::printf(")\n");
  }
  for (const auto& s : features.skipped) std::printf("skipped %s in %s: %s\n", s.sample_id.c_str(), s.stage.c_str(), s.reason.c_str());
  if (!a.out.empty()) {
    write_file_atomic(out / "skipped.csv", skipped_to_csv(skipped));
    std::printf("skipped samples with reasons: %s\n", (out / "skipped.csv").string().c_str());
  }
  if (!a.export_npy.empty()) export_npy(features, *setup.dataset, a.export_npy);
  if (!a.heatmap.empty()) write_motion_heatmap(features, a.heatmap);
  // Experiments add the variants' copies to training folds; fill their caches too, so training does no
  // preprocessing either.
  for (const auto& v : setup.variants) {
    PipelineStats vstats;
    const auto vf = v.pipeline->run(samples, ctx, &vstats);
    std::printf("variant %s (pipeline %s): computed %zu, from cache %zu, skipped %zu, %.1f s\n", v.name.c_str(),
                v.pipeline->fingerprint().c_str(), vstats.computed, vstats.cached, vf.skipped.size(),
                vstats.wall_seconds);
  }
}

}  // namespace

void add_preprocess(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "preprocess", "Run a config's preprocessing over its dataset: fill the feature cache, draw contact sheets, "
                    "export NumPy arrays");
  auto a = std::make_shared<PreprocessArgs>();
  a->config.add_to(*cmd);
  cmd->add_option("--out", a->out, "Folder for contact_sheet.png (default: current folder) and skipped.csv (written only with --out)");
  cmd->add_option("--visualize", a->visualize,
                  "Draw the first N samples stage by stage into <out>/contact_sheet.png (one row each)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--samples", a->samples, "Only these sample ids (comma-separated), e.g. casme2/sub01/EP02_01f")
      ->delimiter(',');
  cmd->add_option("--export-npy", a->export_npy,
                  "Write one float32 .npy per sample and output (C x H x W) and index.csv to this folder");
  cmd->add_option("--heatmap", a->heatmap,
                  "Write the mean flow magnitude of the processed samples (.yml/.png) for roi method heatmap");
  cmd->add_flag("--no-cache", a->no_cache, "Compute everything and leave the cache alone");
  cmd->callback([a] { run_preprocess(*a); });
}

}  // namespace mer::cli
