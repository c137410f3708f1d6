#include <mer/core/error.hpp>

#include <gtest/gtest.h>

namespace mer {
namespace {

// Contexts read as one sentence: each adds a "(while ...)", and one the inner context already says is
// dropped (a full disk during preprocessing used to read "(while preprocessing sample x) (while preprocessing)").
TEST(Error, ContextsReadAsOneSentence) {
  IoError e("cannot write 'f.mfc'");
  e.add_context("preprocessing sample casme2/sub01/EP07");
  e.add_context("preprocessing");
  e.add_context("training fold 3");
  EXPECT_STREQ(e.what(), "cannot write 'f.mfc' (while preprocessing sample casme2/sub01/EP07) (while training fold 3)");
  EXPECT_EQ(e.exit_code(), 4);
  try {
    with_context("preprocessing", [] { throw DataError("no face"); });
  } catch (const DataError& d) {
    EXPECT_STREQ(d.what(), "no face (while preprocessing)");
  }
}

}  // namespace
}  // namespace mer
