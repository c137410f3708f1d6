#pragma once
/// Seeds: every random choice in libmer derives from the run's base seed and a stable name, so a fold,
/// a sample or a subject gets the same stream whatever else ran before it.
#include <cstdint>
#include <string_view>

namespace mer {

/// 64-bit FNV-1a of a string; stable across platforms and runs (std::hash is not).
std::uint64_t stable_hash(std::string_view text, std::uint64_t seed = 0xcbf29ce484222325ULL);
/// A seed for `name` derived from `base` (splitmix64 of base ^ hash(name)).
std::uint64_t derive_seed(std::uint64_t base, std::string_view name);

}  // namespace mer
