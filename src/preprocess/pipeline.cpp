#include <mer/core/error.hpp>
#include <mer/core/log.hpp>
#include <mer/core/progress.hpp>
#include <mer/core/rng.hpp>
#include <mer/features/feature_cache.hpp>
#include <mer/io/atomic_file.hpp>
#include <mer/preprocess/pipeline.hpp>

#include "detail/workers.hpp"

#include <opencv2/core.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

namespace mer {
namespace fs = std::filesystem;

namespace {

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "nothing" : out;
}

// Checks that every read has a writer before it and that the outputs exist at the end. `where[i]` names
// stage i for messages (its config line when built from YAML).
void check_chain(const std::vector<std::unique_ptr<Stage>>& stages, const PipelineOptions& options,
                 const std::vector<std::string>& where, const std::string& outputs_where) {
  std::set<std::string> available;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = *stages[i];
    for (const auto& r : s.reads()) {
      if (!available.count(r)) {
        throw ConfigError(where[i] + ": stage '" + s.type() + "' reads '" + r +
                          "', which no earlier stage writes (available: " + join(available) + ")");
      }
    }
    for (const auto& w : s.writes()) available.insert(w);
  }
  for (const auto& o : options.outputs) {
    if (!available.count(o)) {
      throw ConfigError(outputs_where + ": output '" + o + "' is not written by any stage (available: " +
                        join(available) + ")");
    }
  }
}

struct StageFailure {
  std::string stage;
};

// The stacked network input of one item: outputs in order, each split into its channels. A sequence
// output contributes every frame's channels in time order.
struct Stacked {
  CachedFeatures features;
  std::vector<std::string> channel_names;
  std::vector<FeatureGroup> groups;
};

// The planes one output contributes, with their names; checks that its entries are float and of one size
// (a sequence's frames alike). Outputs may differ in size from each other.
void append_output(const Item& item, const std::string& name, const SampleMeta& sample, std::vector<cv::Mat>& planes,
                   Stacked& s) {
  const bool sequence = item.has_sequence(name);
  const std::vector<cv::Mat> frames = item.frames(name);
  if (frames.empty()) {
    throw SampleError(detail::concat("pipeline output '", name, "' of sample ", sample.id, " is an empty sequence"));
  }
  FeatureGroup group{name, static_cast<int>(s.channel_names.size()), 0, false};
  const cv::Size size = frames.front().size();
  for (std::size_t t = 0; t < frames.size(); ++t) {
    const cv::Mat& m = frames[t];
    const std::string label = sequence ? detail::concat("'", name, "' frame ", t) : "'" + name + "'";
    if (m.depth() != CV_32F) {
      throw ValueError(detail::concat("pipeline output ", label, " of sample ", sample.id,
                                      " must be a float (CV_32F) entry, got depth ", m.depth(),
                                      " (add a stage that produces float features, or drop it from outputs)"));
    }
    if (m.size() != size) {
      throw SampleError(detail::concat("pipeline output ", label, " of sample ", sample.id, " is ", m.cols, "x", m.rows,
                                       " but its frame 0 is ", size.width, "x", size.height,
                                       " (add a resize stage for it)"));
    }
    const std::string base = sequence ? detail::concat(name, "_", t) : name;
    if (m.channels() == 2) {
      // Item convention: 2-channel float entries are displacement fields (u, v).
      group.vector_field = true;
      if (base == "flow") {
        s.channel_names.insert(s.channel_names.end(), {"u", "v"});
      } else {
        s.channel_names.insert(s.channel_names.end(), {base + "_u", base + "_v"});
      }
    } else if (m.channels() == 1) {
      s.channel_names.push_back(base);
    } else {
      for (int c = 0; c < m.channels(); ++c) s.channel_names.push_back(base + "_" + std::to_string(c));
    }
    std::vector<cv::Mat> split;
    cv::split(m, split);
    planes.insert(planes.end(), split.begin(), split.end());
  }
  group.channels = static_cast<int>(s.channel_names.size()) - group.first_channel;
  if (sequence) group.frames = static_cast<int>(frames.size());
  group.height = size.height;
  group.width = size.width;
  s.groups.push_back(group);
}

// Groups of one size are stored as C x H x W; groups of different sizes as (total values) x 1 x 1, their
// own sizes kept in the groups (channels.txt), so the cache entry stays one float array either way.
Stacked stack_outputs(const Item& item, const std::vector<std::string>& outputs, const SampleMeta& sample) {
  Stacked s;
  std::vector<cv::Mat> planes;
  for (const auto& name : outputs) append_output(item, name, sample, planes, s);
  bool uniform = true;
  for (const auto& g : s.groups) uniform = uniform && g.height == s.groups.front().height && g.width == s.groups.front().width;
  std::size_t total = 0;
  for (const auto& p : planes) total += p.total();
  s.features.channels = uniform ? static_cast<int>(s.channel_names.size()) : static_cast<int>(total);
  s.features.height = uniform ? s.groups.front().height : 1;
  s.features.width = uniform ? s.groups.front().width : 1;
  s.features.data.reserve(total);
  for (const auto& p : planes) {
    for (int y = 0; y < p.rows; ++y) {
      const float* row = p.ptr<float>(y);
      s.features.data.insert(s.features.data.end(), row, row + p.cols);
    }
  }
  return s;
}


// channels.txt: one line per channel, "group<TAB>channel<TAB>v|s<TAB>frames<TAB>height<TAB>width" (v: part of
// a displacement field; frames: the group's sequence length, 0 for an image; the group's size).
std::string format_names(const std::vector<std::string>& names, const std::vector<FeatureGroup>& groups) {
  std::string out;
  for (const auto& g : groups) {
    for (int c = g.first_channel; c < g.first_channel + g.channels; ++c) {
      out += g.name + "\t" + names[static_cast<std::size_t>(c)] + "\t" + (g.vector_field ? "v" : "s") + "\t" +
             std::to_string(g.frames) + "\t" + std::to_string(g.height) + "\t" + std::to_string(g.width) + "\n";
    }
  }
  return out;
}

// Parses channels.txt; false when the file is missing, foreign or from an older format.
bool parse_names(const std::string& text, std::vector<std::string>& names, std::vector<FeatureGroup>& groups) {
  names.clear();
  groups.clear();
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto t1 = line.find('\t');
    const auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    const auto t3 = t2 == std::string::npos ? t2 : line.find('\t', t2 + 1);
    // Files without the frames and size columns predate them: recomputed, not guessed.
    if (t3 == std::string::npos) return false;
    const std::string group = line.substr(0, t1), kind = line.substr(t2 + 1, t3 - t2 - 1);
    int frames = 0, height = 0, width = 0;
    {
      std::istringstream rest(line.substr(t3 + 1));
      if (!(rest >> frames >> height >> width)) return false;
    }
    if (groups.empty() || groups.back().name != group) {
      groups.push_back(FeatureGroup{group, static_cast<int>(names.size()), 0, kind == "v", frames, height, width});
    }
    ++groups.back().channels;
    names.push_back(line.substr(t1 + 1, t2 - t1 - 1));
  }
  return !names.empty();
}

}  // namespace

// ---------------------------------------------------------------- building

Pipeline::Pipeline(PipelineOptions options, std::vector<std::unique_ptr<Stage>> stages)
    : options_(std::move(options)), stages_(std::move(stages)) {
  MER_CHECK(options_.on_error == "fail" || options_.on_error == "skip", ValueError,
            "pipeline on_error must be 'fail' or 'skip', got '", options_.on_error, "'");
  MER_CHECK(!stages_.empty(), ValueError, "a pipeline needs at least one stage");
  MER_CHECK(!options_.outputs.empty(), ValueError, "a pipeline needs at least one output");
  std::vector<std::string> where;
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    MER_CHECK(stages_[i] != nullptr, ValueError, "pipeline stage ", i, " is null");
    where.push_back("stage " + std::to_string(i) + " (" + stages_[i]->type() + ")");
  }
  check_chain(stages_, options_, where, "pipeline outputs");
}

Pipeline Pipeline::from_config(const ConfigNode& node, const StageRegistry& registry) {
  PipelineOptions o;
  o.on_error = node.get("on_error", o.on_error);
  if (o.on_error != "fail" && o.on_error != "skip") {
    throw ConfigError(node.where("on_error") + ": '" + node.key_path("on_error") + "' must be fail or skip, got '" +
                      o.on_error + "'");
  }
  o.outputs = node.get("outputs", o.outputs);
  if (o.outputs.empty()) {
    throw ConfigError(node.where("outputs") + ": '" + node.key_path("outputs") + "' must list at least one entry");
  }
  const auto items = node.items("stages");
  if (items.empty()) {
    throw ConfigError(node.where() + ": '" + node.key_path("stages") + "' must list at least one stage");
  }
  std::vector<std::unique_ptr<Stage>> stages;
  std::vector<std::string> where;
  for (const auto& item : items) {
    stages.push_back(registry.build(item));
    where.push_back(item.where());
  }
  // Checked here, with config lines, before the constructor repeats the check without them.
  check_chain(stages, o, where, node.where("outputs"));
  return Pipeline(std::move(o), std::move(stages));
}

std::string Pipeline::description() const {
  std::string all;
  for (const auto& s : stages_) all += s->fingerprint() + "\n";
  all += "outputs:";
  for (const auto& o : options_.outputs) all += " " + o;
  return all;
}

std::string Pipeline::fingerprint() const {
  const std::string all = description();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(stable_hash(all)));
  return buf;
}

// ---------------------------------------------------------------- running

namespace {

// Runs the stages over one sample, translating library exceptions at the stage boundary and naming
// the stage that failed (through `failed`).
Item run_stages(const std::vector<std::unique_ptr<Stage>>& stages, const SampleMeta& sample, std::string& failed,
                std::vector<double>* seconds,
                const std::function<void(const Stage&, const Item&)>* after_stage = nullptr) {
  Item item;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& stage = *stages[i];
    failed = stage.type();
    const auto start = std::chrono::steady_clock::now();
    try {
      stage.apply(sample, item);
    } catch (const Error&) {
      throw;
    } catch (const cv::Exception& e) {
      // OpenCV failing on one sample's data (odd sizes, degenerate frames) is a per-sample failure.
      throw SampleError("OpenCV: " + std::string(e.what()));
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      throw InternalError(std::string("unexpected exception: ") + e.what());
    }
    if (seconds) (*seconds)[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (after_stage && *after_stage) (*after_stage)(stage, item);
  }
  failed.clear();
  return item;
}

std::string context_for(const SampleMeta& sample, const std::string& stage) {
  // Error::what() wraps each context as " (while ...)".
  return "preprocessing sample " + sample.id + (stage.empty() ? std::string() : " in stage " + stage);
}

}  // namespace

Item Pipeline::run_one(const SampleMeta& sample) const {
  std::string failed;
  try {
    return run_stages(stages_, sample, failed, nullptr);
  } catch (Error& e) {
    e.add_context(context_for(sample, failed));
    throw;
  }
}

Item Pipeline::run_one(const SampleMeta& sample,
                       const std::function<void(const Stage&, const Item&)>& after_stage) const {
  std::string failed;
  try {
    return run_stages(stages_, sample, failed, nullptr, &after_stage);
  } catch (Error& e) {
    e.add_context(context_for(sample, failed));
    throw;
  }
}

FeatureSet Pipeline::run(const std::vector<SampleMeta>& samples, const RunContext& ctx, PipelineStats* stats) const {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t n = samples.size();
  const bool skip = options_.on_error == "skip";

  // Only a fully deterministic pipeline may be cached: a random stage's output must differ run to run.
  const bool all_deterministic =
      std::all_of(stages_.begin(), stages_.end(), [](const auto& s) { return s->deterministic(); });
  std::optional<FeatureCache> cache;
  if (!ctx.cache_dir.empty()) {
    if (all_deterministic) {
      cache.emplace(ctx.cache_dir, fingerprint());
      try {
        cache->mark_used(description());
      } catch (const IoError& e) {
        // A read-only (shared) cache still serves hits; only `mer cache ls` loses the last-use date.
        logger()->warn("preprocess: {}", e.what());
      }
    } else {
      logger()->info("preprocess: not caching, the pipeline has a non-deterministic stage");
    }
  }

  struct Result {
    std::optional<CachedFeatures> features;
    std::optional<SkipRecord> skipped;
    bool from_cache = false;
  };
  std::vector<Result> results(n);
  std::vector<std::string> channel_names;  // from the first computed sample
  std::vector<FeatureGroup> groups;        // likewise
  std::mutex mutex;                        // guards channel_names, groups, first_error, stage_seconds
  std::exception_ptr first_error;
  std::size_t first_error_index = n;
  std::vector<double> stage_seconds(stages_.size(), 0.0);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};

  Progress progress("preprocess", n, ctx.progress);
  auto work = [&] {
    std::vector<double> my_seconds(stages_.size(), 0.0);
    for (;;) {
      if (stop.load()) break;
      const std::size_t i = next.fetch_add(1);
      if (i >= n) break;
      const SampleMeta& sample = samples[i];
      std::string failed;
      try {
        std::string key;
        if (cache) {
          key = FeatureCache::make_key(
              sample.id, sample.source_files());
          if (auto hit = cache->load(key)) {
            results[i].features = std::move(hit);
            results[i].from_cache = true;
            progress.tick();
            continue;
          }
        }
        Item item = run_stages(stages_, sample, failed, &my_seconds);
        auto stacked = stack_outputs(item, options_.outputs, sample);
        stacked.features.notes = item.notes;
        if (cache) cache->store(key, stacked.features);
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (channel_names.empty()) channel_names = stacked.channel_names, groups = stacked.groups;
        }
        results[i].features = std::move(stacked.features);
      } catch (const SampleError& e) {
        if (skip || dynamic_cast<const SkipSample*>(&e)) {
          results[i].skipped = SkipRecord{sample.id, failed.empty() ? "pipeline" : failed, e.message()};
        } else {
          std::lock_guard<std::mutex> lock(mutex);
          if (i < first_error_index) {
            try {
              throw;
            } catch (Error& err) {
              err.add_context(context_for(sample, failed));
              first_error = std::current_exception();
            }
            first_error_index = i;
          }
          stop = true;
        }
      } catch (Error& e) {
        std::lock_guard<std::mutex> lock(mutex);
        if (i < first_error_index) {
          e.add_context(context_for(sample, failed));
          first_error = std::current_exception();
          first_error_index = i;
        }
        stop = true;
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (i < first_error_index) {
          first_error = std::current_exception();
          first_error_index = i;
        }
        stop = true;
      }
      progress.tick();
    }
    std::lock_guard<std::mutex> lock(mutex);
    for (std::size_t s = 0; s < my_seconds.size(); ++s) stage_seconds[s] += my_seconds[s];
  };

  detail::run_workers(ctx.threads, n, work);
  if (first_error) {
    progress.finish("failed");
    std::rethrow_exception(first_error);
  }

  FeatureSet out;
  bool have_shape = false;
  for (std::size_t i = 0; i < n; ++i) {
    auto& r = results[i];
    if (r.skipped) {
      out.skipped.push_back(std::move(*r.skipped));
      continue;
    }
    if (!r.features) throw InternalError("preprocess: sample " + samples[i].id + " has neither features nor a skip record");
    auto& f = *r.features;
    if (!have_shape) {
      out.channels = f.channels, out.height = f.height, out.width = f.width;
      have_shape = true;
    } else if (f.channels != out.channels || f.height != out.height || f.width != out.width) {
      throw ValueError(detail::concat("preprocess: sample ", samples[i].id, " gives ", f.channels, "x", f.height, "x",
                                      f.width, " features but sample ", out.samples.front().id, " gives ", out.channels,
                                      "x", out.height, "x", out.width,
                                      " (a resize stage gives every sample one size, an interpolate stage one sequence length)"));
    }
    if (r.from_cache) ++out.cache_hits;
    out.samples.push_back(samples[i]);
    out.inputs.push_back(std::move(f.data));
    out.notes.push_back(std::move(f.notes));
  }

  // Channel names are a function of the pipeline, so the cache keeps them beside its entries: a run served
  // entirely from the cache still knows them.
  if (cache) {
    const auto names_file = cache->folder() / "channels.txt";
    if (!channel_names.empty()) {
      std::error_code ec;
      if (!fs::exists(names_file, ec)) write_file_atomic(names_file, format_names(channel_names, groups));
    } else if (have_shape) {
      const bool ok = fs::exists(names_file) && parse_names(read_file(names_file), channel_names, groups);
      if (!ok || static_cast<int>(channel_names.size()) != out.channels) {
        // Lost or foreign names file: recompute one sample for them rather than guess.
        auto stacked = stack_outputs(run_one(out.samples.front()), options_.outputs, out.samples.front());
        channel_names = stacked.channel_names;
        groups = stacked.groups;
        write_file_atomic(names_file, format_names(channel_names, groups));
      }
    }
  }
  out.channel_names = std::move(channel_names);
  out.groups = std::move(groups);
  if (!out.groups.empty() && out.height == 1 && out.width == 1 &&
      static_cast<int>(out.channel_names.size()) != out.channels) {
    // Groups of different sizes (cached as one flat array): the set's shape is the first group's.
    out.channels = static_cast<int>(out.channel_names.size());
    out.height = out.groups.front().height;
    out.width = out.groups.front().width;
  }
  if (have_shape && static_cast<int>(out.channel_names.size()) != out.channels) {
    throw InternalError(detail::concat("preprocess: ", out.channel_names.size(), " channel names for ", out.channels,
                                       " channels"));
  }

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::size_t computed = out.samples.size() - out.cache_hits;
  progress.finish();
  logger()->info("preprocess: {} samples: {} computed, {} from cache, {} skipped, {:.1f} s", n, computed,
                 out.cache_hits, out.skipped.size(), secs);
  if (computed > 0) {
    std::string per_stage;
    for (std::size_t s = 0; s < stages_.size(); ++s) {
      per_stage += detail::concat(s ? ", " : "", stages_[s]->type(), " ", static_cast<int>(1000.0 * stage_seconds[s] / computed), " ms");
    }
    logger()->debug("preprocess: mean time per computed sample: {}", per_stage);
  }
  if (stats) {
    stats->stages.clear();
    for (const auto& s : stages_) stats->stages.push_back(s->type());
    stats->stage_seconds = stage_seconds;
    stats->computed = computed;
    stats->cached = out.cache_hits;
    stats->skipped = out.skipped.size();
    stats->wall_seconds = secs;
  }
  return out;
}

}  // namespace mer
