#include "commands.hpp"

#include <mer/core/log.hpp>
#include <mer/core/run_context.hpp>
#include <mer/data/synth.hpp>

#include <cstdio>
#include <cstdlib>

namespace mer::cli {

void add_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "synth", "Write a synthetic micro-expression dataset in the native CASME II layout, made from real faces");
  auto o = std::make_shared<SynthOptions>();
  auto threads = std::make_shared<int>(0);
  auto media = std::make_shared<std::string>();
  cmd->add_option("--out", o->out, "Output dataset root")->required();
  cmd->add_option("--subjects", o->subjects, "Number of subjects (distinct real people)")->capture_default_str();
  cmd->add_option("--clips-per-subject", o->clips_per_subject, "Clips per subject")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--media", *media, "Fetched faces (default: $MER_MEDIA_CACHE or ~/.cache/mer/media)");
  cmd->add_option("-j,--threads", *threads, "Worker threads (0: all cores)");
  cmd->callback([o, threads, media] {
    if (!media->empty()) {
      o->media_dir = *media;
    } else if (const char* env = std::getenv("MER_MEDIA_CACHE"); env && *env) {
      o->media_dir = env;
    } else {
      const char* home = std::getenv("HOME");
      o->media_dir = std::filesystem::path(home ? home : ".") / ".cache/mer/media";
    }
    RunContext ctx;
    ctx.threads = RunContext::resolve_threads(*threads);
    ctx.seed = o->seed;
    ctx.progress = ProgressStyle::Auto;
    const auto report = synthesize_casme2(*o, ctx);
    std::printf("wrote %d subjects, %d clips, %d frames to %s (table: %s)\n", report.subjects, report.clips,
                report.frames, o->out.string().c_str(), report.table.string().c_str());
  });
}

}  // namespace mer::cli
