#pragma once
/// libmer's exceptions. The library throws; only the CLI turns errors into exit codes.
///
/// Every error carries a one-line message that names the thing at fault (file, row, sample, key) and
/// what was expected, plus context added on the way out ("while loading sample casme2/sub01/EP02_01f").
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mer {

class Error : public std::exception {
 public:
  explicit Error(std::string message);
  /// The message followed by the context chain, on one line.
  const char* what() const noexcept override { return full_.c_str(); }
  const std::string& message() const { return message_; }
  const std::vector<std::string>& context() const { return context_; }
  /// Appends "while <what>" (outermost last).
  void add_context(const std::string& what);
  /// Exit code the CLI uses for this class of error: 1 internal, 2 config/usage, 3 data, 4 I/O.
  virtual int exit_code() const { return 1; }
  virtual const char* kind() const { return "error"; }

 private:
  void rebuild();
  std::string message_;
  std::vector<std::string> context_;
  std::string full_;
};

#define MER_DEFINE_ERROR(Name, Code, Kind)                \
  class Name : public Error {                             \
   public:                                                \
    using Error::Error;                                   \
    int exit_code() const override { return Code; }       \
    const char* kind() const override { return Kind; }    \
  };
/// A configuration file or option is wrong (unknown key, bad type, missing value).
MER_DEFINE_ERROR(ConfigError, 2, "config error")
/// A name was not found in a registry, or registered twice.
MER_DEFINE_ERROR(RegistryError, 2, "registry error")
/// An argument has a value outside its contract.
MER_DEFINE_ERROR(ValueError, 2, "value error")
/// Input data is missing, malformed or unusable (tables, frames, samples).
MER_DEFINE_ERROR(DataError, 3, "data error")
/// Reading or writing a file failed.
MER_DEFINE_ERROR(IoError, 4, "I/O error")
/// A bug in libmer: an invariant did not hold.
MER_DEFINE_ERROR(InternalError, 1, "internal error")
#undef MER_DEFINE_ERROR

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

/// Runs f; if it throws a mer::Error, adds "while <what>" to it and rethrows.
template <class F>
auto with_context(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (Error& e) {
    e.add_context(what);
    throw;
  }
}

}  // namespace mer

/// Checks a contract at a public entry point: MER_CHECK(x > 0, ValueError, "x must be > 0, got ", x).
#define MER_CHECK(cond, ErrorType, ...)                                  \
  do {                                                                   \
    if (!(cond)) throw ::mer::ErrorType(::mer::detail::concat(__VA_ARGS__)); \
  } while (0)
