#include <mer/meta/action_units.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include <map>

#include "support/test_paths.hpp"

namespace mer {
namespace {

// Builds an AU from its canonical text, e.g. au(12, 'L', 'C'), with flags set afterwards.
ActionUnit au(int number, char side = 0, char intensity = 0) {
  ActionUnit u;
  u.number = number;
  u.side = side;
  u.intensity = intensity;
  return u;
}
ActionUnit asym(ActionUnit u) {
  u.asymmetric = true;
  return u;
}
ActionUnit trace(ActionUnit u) {
  u.trace = true;
  return u;
}
ActionUnit ref(ActionUnit u) {
  u.reference = true;
  return u;
}

using Alternatives = std::vector<std::vector<ActionUnit>>;

std::string show(const Alternatives& alts) {
  ActionUnits a;
  a.alternatives = alts;
  return to_string(a);
}

void expect_parse(const std::string& cell, const Alternatives& expected, const std::vector<std::string>& notes = {}) {
  const auto p = parse_action_units(cell);
  EXPECT_EQ(p.text, cell);
  EXPECT_TRUE(p.complete()) << "'" << cell << "' unparsed: " << (p.unparsed.empty() ? "" : p.unparsed[0]);
  EXPECT_EQ(p.alternatives, expected) << "'" << cell << "' gave " << show(p.alternatives) << ", expected "
                                      << show(expected);
  EXPECT_EQ(p.notes, notes) << cell;
}

TEST(ActionUnits, CasmeNotation) {
  expect_parse("12", {{au(12)}});
  expect_parse("4+L10", {{au(4), au(10, 'L')}});
  expect_parse("R6+R12", {{au(6, 'R'), au(12, 'R')}});
  expect_parse("4+7+6", {{au(4), au(7), au(6)}});  // table order kept
  expect_parse("B23", {{au(23, 'B')}});
  expect_parse("24+T18+16", {{au(24), trace(au(18)), au(16)}});
  expect_parse("10R", {{au(10, 'R')}});  // MMEW writes the side as a suffix
  expect_parse("4R+7", {{au(4, 'R'), au(7)}});
  expect_parse("AU12+AU 4", {{au(12), au(4)}});
  expect_parse("U14", {{au(14, 'U')}});
}

TEST(ActionUnits, SammNotation) {
  expect_parse("4A", {{au(4, 0, 'A')}});
  expect_parse("7B", {{au(7, 0, 'B')}});
  expect_parse("43E", {{au(43, 0, 'E')}});
  expect_parse("L12", {{au(12, 'L')}});
  expect_parse("R14A", {{au(14, 'R', 'A')}});
  expect_parse("A14C", {{asym(au(14, 0, 'C'))}});
  expect_parse("A9E+ref(10)", {{asym(au(9, 0, 'E')), ref(au(10))}});
  expect_parse("T23", {{trace(au(23))}});
  expect_parse("ref(7B)+43C", {{ref(au(7, 0, 'B')), au(43, 0, 'C')}});
  expect_parse("ref(L10)+A12B", {{ref(au(10, 'L')), asym(au(12, 0, 'B'))}});
  expect_parse("7B+ ref(43)", {{au(7, 0, 'B'), ref(au(43))}});
  expect_parse("1A+2B+L14C", {{au(1, 0, 'A'), au(2, 0, 'B'), au(14, 'L', 'C')}});
  expect_parse("12+15 ", {{au(12), au(15)}});
  expect_parse("L12 + 61", {{au(12, 'L'), au(61)}});
}

TEST(ActionUnits, AlternativesMultiplyOut) {
  expect_parse("(R6 or R12)+R15", {{au(6, 'R'), au(15, 'R')}, {au(12, 'R'), au(15, 'R')}});
  expect_parse("(R6 or R12) + R15", {{au(6, 'R'), au(15, 'R')}, {au(12, 'R'), au(15, 'R')}});
  expect_parse("L12 or L14", {{au(12, 'L')}, {au(14, 'L')}});
  expect_parse("R14A or 17A or 24A", {{au(14, 'R', 'A')}, {au(17, 0, 'A')}, {au(24, 0, 'A')}});
  // "or" binds loosest: 4+L12 or 14 is (4+L12) or 14.
  expect_parse("4+L12 OR 14", {{au(4), au(12, 'L')}, {au(14)}});
  expect_parse("(1 or 2)+(4 or 5)", {{au(1), au(4)}, {au(1), au(5)}, {au(2), au(4)}, {au(2), au(5)}});
  // '/' is "or" within one AU; a fragment without a number borrows its neighbour's.
  expect_parse("10A/B", {{au(10, 0, 'A')}, {au(10, 0, 'B')}});
  expect_parse("4A/B", {{au(4, 0, 'A')}, {au(4, 0, 'B')}});
  expect_parse("A/L12", {{asym(au(12))}, {au(12, 'L')}});
  expect_parse("A/L12C+25", {{asym(au(12, 0, 'C')), au(25)}, {au(12, 'L', 'C'), au(25)}});
  expect_parse("12/14", {{au(12)}, {au(14)}});
  expect_parse("10or11", {{au(10)}, {au(11)}});  // CAS(ME)^2 writes it without spaces
  expect_parse("ref(4 or 7)", {{ref(au(4))}, {ref(au(7))}});
}

TEST(ActionUnits, SeparatorsNotesAndUnknowns) {
  expect_parse("4\xEF\xBC\x8C" "7", {{au(4), au(7)}});  // Chinese comma (CAS(ME)^3 Part C)
  expect_parse("4, 7", {{au(4), au(7)}});
  expect_parse("1+2+25,24", {{au(1), au(2), au(25), au(24)}});
  expect_parse("R14+17+soft focus", {{au(14, 'R'), au(17)}}, {"soft focus"});
  // A word that merely contains "or" is not the operator.
  expect_parse("12+for show", {{au(12)}}, {"for show"});

  for (const std::string cell : {"?", " ? ", "NULL", "null", "", "   "}) {
    const auto p = parse_action_units(cell);
    EXPECT_TRUE(p.unknown) << "'" << cell << "'";
    EXPECT_FALSE(p.complete());
    EXPECT_TRUE(p.alternatives.empty());
    EXPECT_EQ(p.text, cell);
  }
}

TEST(ActionUnits, UnreadablePiecesAreKeptNeverDropped) {
  // A bad piece among good ones: the good AUs stay, the piece is kept verbatim.
  auto p = parse_action_units("4+12x+7");
  EXPECT_FALSE(p.complete());
  EXPECT_FALSE(p.unknown);
  EXPECT_EQ(p.alternatives, (Alternatives{{au(4), au(7)}}));
  EXPECT_EQ(p.unparsed, std::vector<std::string>{"12x"});
  EXPECT_EQ(to_string(p), "4+12x+7");

  for (const std::string cell : {"(R6 or R12+R15", "R6)", "12+", "+12", "4++7", "12 or", "ref(7B", "L12R", "AA12",
                                 "12CC", "100", "123", "4a", "12?", "L", "A/B",
                                 "((((((((((((((((((1))))))))))))))))))"}) {
    p = parse_action_units(cell);
    EXPECT_FALSE(p.complete()) << "'" << cell << "' read as " << to_string(p);
    EXPECT_FALSE(p.unknown) << cell;
    EXPECT_FALSE(p.unparsed.empty()) << cell;
    EXPECT_EQ(p.text, cell);
  }
  // A structural error keeps the whole (trimmed) cell.
  EXPECT_EQ(parse_action_units(" (R6 or R12+R15 ").unparsed, std::vector<std::string>{"(R6 or R12+R15"});
  // An expansion too large to be an annotation is refused, not computed.
  std::string huge;
  for (int k = 0; k < 12; ++k) huge += (k ? "+" : "") + std::string("(1 or 2)");
  EXPECT_FALSE(parse_action_units(huge).complete());
}

TEST(ActionUnits, CanonicalTextAndNumbers) {
  const auto p = parse_action_units("(R6 or R12) + ref(7B)+TA14C + soft focus");
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(to_string(p), "(R6+ref(7B)+TA14C or R12+ref(7B)+TA14C)+soft focus");
  EXPECT_EQ(p.numbers(), (std::vector<int>{6, 12, 14}));
  EXPECT_EQ(to_string(parse_action_units("?")), "?");
  EXPECT_EQ(au(12, 'U').text(), "U12");
  EXPECT_EQ(asym(au(12, 'U')).text(), "UA12");  // not "AU12", which reads as the label
  EXPECT_EQ(parse_action_units("UA12").alternatives, (Alternatives{{asym(au(12, 'U'))}}));
}

struct TableCounts {
  int cells = 0, complete = 0, with_notes = 0, with_alternatives = 0, unknown = 0, partial = 0;
};

// Parses every AU cell of a real table; every cell must give AUs (and round-trip through its canonical
// text), notes, or an explicit unknown; nothing may vanish.
TableCounts parse_column(const std::string& file, const std::string& column) {
  const auto t = read_table(test::annotations_dir() / file, {"", {column}});
  const auto c = t.column(column);
  TableCounts n;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& cell = t.rows[r][c];
    const auto p = parse_action_units(cell);
    ++n.cells;
    EXPECT_EQ(p.text, cell);
    EXPECT_TRUE(p.unknown || !p.alternatives.empty() || !p.notes.empty() || !p.unparsed.empty()) << t.where(r);
    if (p.unknown) {
      ++n.unknown;
      continue;
    }
    if (!p.complete()) {
      ++n.partial;
      ADD_FAILURE() << t.where(r) << ": '" << cell << "' not fully read; unparsed '" << p.unparsed.front() << "'";
      continue;
    }
    ++n.complete;
    n.with_notes += !p.notes.empty();
    n.with_alternatives += p.alternatives.size() > 1;
    const auto again = parse_action_units(to_string(p));
    EXPECT_EQ(again.alternatives, p.alternatives) << t.where(r) << ": '" << cell << "' -> '" << to_string(p) << "'";
    EXPECT_EQ(again.notes, p.notes) << t.where(r);
    // Simple cells come back as written, spaces aside.
    std::string squeezed;
    for (char ch : cell)
      if (ch != ' ') squeezed += ch;
    if (p.alternatives.size() == 1 && p.notes.empty() && cell.find("ref") == std::string::npos &&
        cell.find_first_of("RL") == std::string::npos) {
      EXPECT_EQ(to_string(p), squeezed) << t.where(r);
    }
  }
  return n;
}

TEST(ActionUnits, EveryCellOfTheRealTables) {
  const auto casme2 = parse_column("casme2_coding.csv", "Action Units");
  EXPECT_EQ(casme2.cells, 255);
  EXPECT_EQ(casme2.complete, 250);
  EXPECT_EQ(casme2.unknown, 5);  // the five '?' rows
  EXPECT_EQ(casme2.partial, 0);

  const auto casme2_2019 = parse_column("casme2_coding_20190701.csv", "Action Units");
  EXPECT_EQ(casme2_2019.cells, 255);
  EXPECT_EQ(casme2_2019.complete, 255);  // the 2019 release replaced the five '?'

  const auto samm = parse_column("samm_coding.csv", "Action Units");
  EXPECT_EQ(samm.cells, 159);
  EXPECT_EQ(samm.complete, 159);
  EXPECT_EQ(samm.with_notes, 1);  // R14+17+soft focus
  EXPECT_EQ(samm.with_alternatives, 8);  // "or" and "/" cells

  const auto casme3 = parse_column("casme3_partA_me.csv", "AU");
  EXPECT_EQ(casme3.cells, 860);
  EXPECT_EQ(casme3.complete, 860);

  const auto mmew = parse_column("mmew_micro_no_others_htnet.csv", "Action Units");
  EXPECT_EQ(mmew.cells, 234);
  EXPECT_EQ(mmew.complete, 234);

  // CAS(ME)^2's code sheet has no header; AUs are column 6, with "NULL" for none.
  TableOptions no_header;
  no_header.has_header = false;
  const auto sq = read_table(test::annotations_dir() / "casme_sq_code_final.csv", no_header);
  int complete = 0, unknown = 0;
  for (std::size_t r = 0; r < sq.rows.size(); ++r) {
    const auto p = parse_action_units(sq.rows[r][5]);
    complete += p.complete();
    unknown += p.unknown;
    EXPECT_TRUE(p.complete() || p.unknown) << sq.where(r) << ": '" << sq.rows[r][5] << "'";
  }
  EXPECT_EQ(complete, 346);  // "10or11", "1+2+25,24", ...
  EXPECT_EQ(unknown, 11);    // "NULL" and "null"
}

}  // namespace
}  // namespace mer
