#include <mer/core/error.hpp>
#include <mer/meta/table.hpp>

#include <gtest/gtest.h>

#include "support/test_paths.hpp"

namespace mer {
namespace {

TEST(Table, QuotesCrlfBomAndBlankLines) {
  const auto t = Table::parse_csv("\xEF\xBB\xBF" "a,b,c\r\n1,\"x, \"\"y\"\"\",3\r\n\r\n4,5\r\n", "t.csv");
  ASSERT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "x, \"y\"");
  EXPECT_EQ(t.rows[1][2], "");  // short rows padded
  EXPECT_EQ(t.lines[1], 4);     // blank line 3 skipped, line numbers kept
  EXPECT_EQ(t.where(1), "t.csv:4");
}

TEST(Table, MissingColumnListsHeader) {
  const auto t = Table::parse_csv("Subject,,OnsetFrame\n01,,5\n", "c.csv");
  EXPECT_EQ(t.column("OnsetFrame"), 2u);
  try {
    t.column("ApexFrame");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("Subject, OnsetFrame"), std::string::npos) << e.what();
  }
}

TEST(Table, UnterminatedQuoteIsADataError) {
  EXPECT_THROW(Table::parse_csv("a\n\"oops\n", "q.csv"), DataError);
}

TEST(Table, IntCells) {
  EXPECT_EQ(parse_int_cell("46"), 46);
  EXPECT_EQ(parse_int_cell(" 46.0 "), 46);
  EXPECT_FALSE(parse_int_cell("/"));
  EXPECT_FALSE(parse_int_cell(""));
  EXPECT_FALSE(parse_int_cell("4.5"));
  EXPECT_FALSE(parse_int_cell("12a"));
  // Beyond int's range (found by tests/fuzz/csv_table_fuzzer: the cast was undefined behaviour).
  EXPECT_FALSE(parse_int_cell("4e27"));
  EXPECT_FALSE(parse_int_cell("-3000000000"));
  EXPECT_EQ(parse_int_cell("2147483647"), 2147483647);
}

TEST(Table, EscapeRoundTrip) {
  const std::string cell = "a,\"b\"";
  const auto t = Table::parse_csv("h\n" + csv_escape(cell) + "\n", "e.csv");
  EXPECT_EQ(t.rows.at(0).at(0), cell);
  EXPECT_EQ(csv_escape("plain"), "plain");
}

TEST(Table, ReadsTheRealMegcListWithCrlfAndNoHeader) {
  const auto t = Table::read(test::annotations_dir() / "megc2019_composite.csv", false);
  EXPECT_EQ(t.rows.size(), 442u);
  EXPECT_EQ(t.rows.front().size(), 4u);
  EXPECT_TRUE(t.header.empty());
}

TEST(Table, MissingFileIsAnIoError) { EXPECT_THROW(Table::read("/nonexistent/x.csv"), IoError); }

}  // namespace
}  // namespace mer
