#include <mer/core/version.hpp>

#include "mer_git_commit.hpp"  // generated at build time by cmake/GitCommit.cmake

namespace mer {

std::string version() { return MER_VERSION; }
std::string git_commit() { return MER_GIT_COMMIT; }

}  // namespace mer
