#include "support/synth_tree.hpp"

#include "support/test_paths.hpp"

namespace mer::test {

SynthReport write_synth_casme2(const std::filesystem::path& out, int subjects, int clips_per_subject, int min_frames,
                               int max_frames, std::uint64_t seed) {
  SynthOptions o;
  o.out = out;
  o.media_dir = media_dir();
  o.landmark_model = landmark_model();
  o.subjects = subjects;
  o.clips_per_subject = clips_per_subject;
  o.min_frames = min_frames;
  o.max_frames = max_frames;
  o.seed = seed;
  RunContext ctx;
  ctx.threads = 2;
  ctx.progress = ProgressStyle::None;
  return synthesize_casme2(o, ctx);
}

}  // namespace mer::test
