#pragma once
/// Action units: the FACS strings of the annotation tables ("4+L10", "(R6 or R12)+R15", "10A/B") read
/// into a structure, without losing anything the coder wrote.
///
/// Notation, as the tables use it (SAMM's symbol key, the CASME tables, MMEW):
///   12        AU 12                         4A..43E   intensity A (trace) .. E (maximum), as a suffix
///   L12 R12   unilateral, left / right      12L 10R   the same written as a suffix (MMEW)
///   U12       unilateral, side not given    B18       bilateral, written explicitly (SAMM, CAS(ME)^3)
///   A14C      asymmetric: both sides, one stronger  (an "A" prefix; a suffix "A" is intensity)
///   T23       "T" prefix (SAMM), kept as the `trace` flag
///   ref(7B)   a reference AU (SAMM), kept with `reference` set
///   AU12      the "AU" label is allowed and dropped
///   a+b       both (also ',' and the Chinese comma '，', as in CAS(ME)^3 Part C)
///   a or b    alternatives (also "10or11"); "or" binds loosest, parentheses group: (R6 or R12)+R15
///   a/b       alternatives of one AU; a fragment without a number borrows it from its neighbour:
///             10A/B = 10A or 10B, A/L12 = A12 or L12
/// Words among the AUs ("soft focus") are kept as notes. Whole cells "?", "NULL" and blank cells say the
/// AUs are unknown. Anything else that cannot be read is kept verbatim in `unparsed`.
#include <string>
#include <vector>

namespace mer {

struct ActionUnit {
  int number = 0;
  /// 'L', 'R', 'U' (unilateral, side not given), 'B' (bilateral, written explicitly) or 0.
  char side = 0;
  /// 'A' (trace) .. 'E' (maximum), or 0 when not coded.
  char intensity = 0;
  bool asymmetric = false;  ///< "A" prefix
  bool trace = false;       ///< "T" prefix
  bool reference = false;   ///< written as ref(...)

  /// Canonical text: prefixes T, A, side, then the number and intensity; "ref(7B)" for a reference.
  std::string text() const;
  bool operator==(const ActionUnit& o) const;
  bool operator!=(const ActionUnit& o) const { return !(*this == o); }
};

struct ActionUnits {
  /// The cell as given (untrimmed).
  std::string text;
  /// Disjunctive form: the coder saw one of these sets; each set holds AUs that occur together.
  /// "(R6 or R12)+R15" -> {{R6, R15}, {R12, R15}}; "4+L10" -> {{4, L10}}.
  std::vector<std::vector<ActionUnit>> alternatives;
  /// Free text written among the AUs, trimmed ("soft focus").
  std::vector<std::string> notes;
  /// Pieces that could not be read, verbatim (trimmed); the whole cell when its structure is broken.
  std::vector<std::string> unparsed;
  /// The cell says the AUs are not known: "?", "NULL" or blank.
  bool unknown = false;

  /// Every piece was read: AUs (and possibly notes), nothing left unparsed, not unknown.
  bool complete() const { return !unknown && unparsed.empty() && !alternatives.empty(); }
  /// Every AU number that occurs in any alternative, ascending, without repeats; references excluded.
  std::vector<int> numbers() const;
};

/// Parses a table cell. Never throws on cell content: what cannot be read is kept in `unparsed`.
ActionUnits parse_action_units(const std::string& cell);

/// Canonical text of a parsed cell, parsing back to the same structure: alternatives joined by " or "
/// (parenthesised when notes follow), AUs by "+", notes appended with "+". Unknown or broken cells give
/// their trimmed text.
std::string to_string(const ActionUnits& aus);

/// Targets for action-unit detection (multi-task heads). The vocabulary is the AU numbers that occur in
/// at least `min_count` of the given samples' cells — callers pass a fold's training samples only, so the
/// test subject's annotations never shape the model. A sample's target for AU k is 1 when k occurs in
/// its cell (in any alternative: the coder saw it in one of them) and 0 otherwise; a cell that cannot be
/// read completely ("?", NULL, broken) gives no target (`known` false) and is left out of the AU loss.
std::vector<int> action_unit_vocabulary(const std::vector<const std::string*>& cells, int min_count = 1);
struct ActionUnitTargets {
  std::vector<float> values;  ///< one per vocabulary entry
  bool known = false;
};
ActionUnitTargets action_unit_targets(const std::string& cell, const std::vector<int>& vocabulary);

}  // namespace mer
