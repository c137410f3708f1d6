#pragma once
#include <string>

namespace mer {

/// libmer's version ("0.1.0").
std::string version();
/// The git commit libmer was built from ("unknown" outside a checkout; "-dirty" if modified).
std::string git_commit();

}  // namespace mer
