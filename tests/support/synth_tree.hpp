#pragma once
/// A tiny synthetic CASME II tree (real faces from the media cache, mer synth's generator) for tests that
/// need clips with real motion: experiments, variants, presets.
#include <mer/data/synth.hpp>

#include <cstdint>
#include <filesystem>

namespace mer::test {

/// Writes <out>/CASME2_RAW_selected/... and the coding table; deterministic for a seed (thread count does
/// not matter).
SynthReport write_synth_casme2(const std::filesystem::path& out, int subjects, int clips_per_subject, int min_frames,
                               int max_frames, std::uint64_t seed);

}  // namespace mer::test
