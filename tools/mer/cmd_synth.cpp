#include "commands.hpp"

#include <mer/core/log.hpp>
#include <mer/core/run_context.hpp>
#include <mer/data/synth.hpp>

#include <cstdio>
#include <cstdlib>

namespace mer::cli {

void add_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "synth", "Write a synthetic micro-expression dataset in a native layout (CASME II, or the MEGC2019 composite's "
               "three sources), made from real faces");
  auto layout = std::make_shared<std::string>("casme2");
  auto composite = std::make_shared<Megc2019SynthOptions>();
  cmd->add_option("--layout", *layout, "casme2 | megc2019 (CASME2/, SAMM/, SMIC/ as distributed; run configs/megc2019.yaml "
                                      "with MER_DATA_ROOT=OUT)")
      ->check(CLI::IsMember({"casme2", "megc2019"}))
      ->capture_default_str();
  cmd->add_option("--samples", composite->samples, "megc2019: about this many of the 442 samples, class shares kept (0: all)")
      ->capture_default_str();
  cmd->add_flag("--real-sizes", composite->real_sizes,
                "megc2019: the sources' frame sizes (640x480, SAMM 2040x1088) instead of 320x240 / 400x300");
  auto o = std::make_shared<SynthOptions>();
  auto threads = std::make_shared<int>(0);
  auto media = std::make_shared<std::string>();
  cmd->add_option("--out", o->out, "Output dataset root")->required();
  cmd->add_option("--subjects", o->subjects, "Number of subjects (distinct real people)")->capture_default_str();
  cmd->add_option("--clips-per-subject", o->clips_per_subject, "Clips per subject")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  // Difficulty: smaller motions, more sensor noise and head motion make the task harder.
  cmd->add_option("--min-amplitude", o->min_amplitude, "Smallest peak displacement of a clip, px")->capture_default_str();
  cmd->add_option("--max-amplitude", o->max_amplitude, "Largest peak displacement of a clip, px")->capture_default_str();
  cmd->add_option("--noise", o->noise, "Sensor noise std. dev., grey levels")->capture_default_str();
  cmd->add_option("--head-motion", o->head_motion, "Largest head drift over a clip, px")->capture_default_str();
  cmd->add_option("--media", *media, "Fetched faces (default: $MER_MEDIA_CACHE or ~/.cache/mer/media)");
  cmd->add_option("-j,--threads", *threads, "Worker threads (0: all cores)");
  cmd->callback([o, threads, media, layout, composite] {
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
    const auto report = *layout == "megc2019" ? synthesize_megc2019(*o, *composite, ctx) : synthesize_casme2(*o, ctx);
    std::printf("wrote %d subjects, %d clips, %d frames to %s (table: %s)\n", report.subjects, report.clips,
                report.frames, o->out.string().c_str(), report.table.string().c_str());
  });
}

}  // namespace mer::cli
