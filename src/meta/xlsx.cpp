// Interim: replaced by the real reader (libzip + pugixml) in the datasets work.
#include <mer/core/error.hpp>
#include <mer/meta/table.hpp>

namespace mer {
Table read_xlsx(const std::filesystem::path& file, const std::string&) {
  throw DataError("cannot read '" + file.string() + "': .xlsx support is not built yet; export the sheet to CSV");
}
std::vector<std::string> xlsx_sheet_names(const std::filesystem::path& file) {
  throw DataError("cannot read '" + file.string() + "': .xlsx support is not built yet");
}
}  // namespace mer
