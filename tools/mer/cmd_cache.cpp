// mer cache: list, verify and prune the on-disk feature cache (one folder per pipeline fingerprint).
#include "preprocess_setup.hpp"

#include <mer/core/error.hpp>
#include <mer/features/feature_cache.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>

namespace mer::cli {

namespace fs = std::filesystem;

namespace {

struct CacheArgs {
  std::string cache_dir;
  std::string config;
  std::vector<std::string> set;
  void add_to(CLI::App& cmd) {
    cmd.add_option("--cache-dir", cache_dir, "Cache root (default: the config's runtime.cache_dir, else ~/.cache/mer/features)");
    cmd.add_option("-c,--config", config, "Take the cache root from this config's runtime.cache_dir")
        ->check(CLI::ExistingFile);
    cmd.add_option("--set", set, "Override a config value: key.path=value (with --config)");
  }
  fs::path root() const {
    if (!cache_dir.empty()) return cache_dir;
    if (!config.empty()) {
      // Only runtime.cache_dir is wanted: building the pipeline would load models for nothing.
      const auto loaded = Config::load(config, set);
      return RuntimeOptions::from_config(loaded.root().child("runtime")).cache_dir;
    }
    return default_cache_dir();
  }
};

// file_time_type has no portable calendar conversion in C++17: shift by the two clocks' current offset.
std::chrono::system_clock::time_point to_system(fs::file_time_type t) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t - fs::file_time_type::clock::now());
}

std::string when(fs::file_time_type t) {
  if (t == fs::file_time_type{}) return "-";
  const std::time_t tt = std::chrono::system_clock::to_time_t(to_system(t));
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::localtime(&tt));
  return buf;
}

double days_since(fs::file_time_type t) {
  return std::chrono::duration<double>(fs::file_time_type::clock::now() - t).count() / 86400.0;
}

double mb(std::uintmax_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// "frames > detect_face > ... -> flow, strain" from pipeline.txt's fingerprint lines.
std::string summary(const std::string& description) {
  if (description.empty()) return "(no pipeline.txt: written before libmer recorded it)";
  std::string stages, outputs;
  std::size_t start = 0;
  while (start <= description.size()) {
    auto end = description.find('\n', start);
    if (end == std::string::npos) end = description.size();
    const std::string line = description.substr(start, end - start);
    if (line.rfind("outputs:", 0) == 0) {
      outputs = line.substr(8);
    } else if (!line.empty()) {
      stages += (stages.empty() ? "" : " > ") + line.substr(0, line.find('('));
    }
    start = end + 1;
  }
  return stages + " ->" + outputs;
}

void list(const CacheArgs& a, bool verbose) {
  const auto root = a.root();
  const auto folders = list_cache_folders(root);
  std::printf("cache %s: %zu folder(s)\n", root.string().c_str(), folders.size());
  if (folders.empty()) return;
  std::printf("%-16s %8s %9s  %-16s  %s\n", "fingerprint", "entries", "size MB", "last used", "pipeline");
  std::uintmax_t total = 0;
  for (const auto& f : folders) {
    total += f.bytes;
    std::printf("%-16s %8zu %9.2f  %-16s  %s\n", f.fingerprint.c_str(), f.entries, mb(f.bytes), when(f.last_used).c_str(),
                summary(f.description).c_str());
    if (verbose && !f.description.empty()) {
      std::size_t start = 0;
      while (start < f.description.size()) {
        auto end = f.description.find('\n', start);
        if (end == std::string::npos) end = f.description.size();
        std::printf("    %s\n", f.description.substr(start, end - start).c_str());
        start = end + 1;
      }
    }
  }
  std::printf("total %.2f MB\n", mb(total));
}

void verify(const CacheArgs& a, bool fix) {
  const auto root = a.root();
  std::size_t checked = 0;
  const auto problems = verify_cache(root, &checked);
  for (const auto& p : problems) {
    std::printf("%s: %s%s\n", p.path.string().c_str(), p.problem.c_str(), fix ? " (deleted)" : "");
    if (fix) {
      std::error_code ec;
      fs::remove(p.path, ec);
      if (ec) throw IoError("cannot delete '" + p.path.string() + "': " + ec.message());
    }
  }
  std::printf("cache %s: %zu entries checked, %zu damaged file(s)%s\n", root.string().c_str(), checked,
              problems.size(), fix && !problems.empty() ? ", deleted" : "");
  if (!problems.empty() && !fix) {
    throw DataError(detail::concat(problems.size(), " damaged cache file(s), the first: ", problems.front().path.string(),
                                   " (", problems.front().problem, "); `mer cache verify --fix` deletes them"));
  }
}

struct PruneArgs {
  std::vector<std::string> keep_configs;
  double older_than = -1;
  bool dry_run = false;
};

void prune(const CacheArgs& a, const PruneArgs& p) {
  if (p.keep_configs.empty() && p.older_than < 0) {
    throw CLI::ValidationError("prune", "say what to remove: --keep-config C (repeatable) and/or --older-than DAYS");
  }
  // The configs' pipelines name the folders to keep; the first config also gives the default root.
  std::set<std::string> keep;
  fs::path root = a.cache_dir;
  for (const auto& c : p.keep_configs) {
    ConfigArgs args;
    args.config = c;
    args.set = a.set;
    const auto setup = load_preprocess_setup(args, false);
    keep.insert(setup.pipeline->fingerprint());
    for (const auto& v : setup.variants) keep.insert(v.pipeline->fingerprint());
    if (root.empty() && a.config.empty()) root = setup.runtime.cache_dir;
  }
  if (root.empty()) root = a.root();
  std::size_t removed = 0;
  std::uintmax_t bytes = 0;
  for (const auto& f : list_cache_folders(root)) {
    const bool kept = keep.count(f.fingerprint) > 0;
    const bool old_enough = p.older_than < 0 || days_since(f.last_used) > p.older_than;
    if (kept || !old_enough) continue;
    std::printf("%s %s  (%zu entries, %.2f MB, last used %s)\n", p.dry_run ? "would remove" : "removing",
                f.path.string().c_str(), f.entries, mb(f.bytes), when(f.last_used).c_str());
    if (!p.dry_run) {
      std::error_code ec;
      fs::remove_all(f.path, ec);
      if (ec) throw IoError("cannot remove '" + f.path.string() + "': " + ec.message());
    }
    ++removed;
    bytes += f.bytes;
  }
  std::printf("%s %zu folder(s), %.2f MB%s\n", p.dry_run ? "would remove" : "removed", removed, mb(bytes),
              keep.empty() ? "" : detail::concat("; kept ", keep.size(), " configured pipeline(s)").c_str());
}

}  // namespace

void add_cache(CLI::App& app) {
  auto* cmd = app.add_subcommand("cache", "Inspect and tidy the feature cache: ls, verify, prune");
  cmd->require_subcommand(1);

  auto* ls = cmd->add_subcommand("ls", "One line per pipeline folder: fingerprint, entries, size, last use, stages");
  auto ls_args = std::make_shared<CacheArgs>();
  auto verbose = std::make_shared<bool>(false);
  ls_args->add_to(*ls);
  ls->add_flag("-v,--verbose", *verbose, "Also print every stage's fingerprint (its resolved options)");
  ls->callback([ls_args, verbose] { list(*ls_args, *verbose); });

  auto* ver = cmd->add_subcommand("verify", "Read every entry; list truncated or corrupt files (exit 3 if any)");
  auto ver_args = std::make_shared<CacheArgs>();
  auto fix = std::make_shared<bool>(false);
  ver_args->add_to(*ver);
  ver->add_flag("--fix", *fix, "Delete the damaged files (the next run recomputes them)");
  ver->callback([ver_args, fix] { verify(*ver_args, *fix); });

  auto* pr = cmd->add_subcommand(
      "prune", "Remove pipeline folders that the given configs do not use and/or that were not used for DAYS");
  auto pr_args = std::make_shared<CacheArgs>();
  auto p = std::make_shared<PruneArgs>();
  pr_args->add_to(*pr);
  pr->add_option("--keep-config", p->keep_configs, "Keep the folder of this config's pipeline (repeatable)")
      ->check(CLI::ExistingFile);
  pr->add_option("--older-than", p->older_than, "Only remove folders last used more than DAYS ago")
      ->check(CLI::NonNegativeNumber);
  pr->add_flag("--dry-run", p->dry_run, "Only print what would be removed");
  pr->callback([pr_args, p] { prune(*pr_args, *p); });
}

}  // namespace mer::cli
