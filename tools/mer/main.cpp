// mer: the libmer command-line tool. Exit codes: 0 ok, 1 internal error, 2 usage or config error,
// 3 data error, 4 I/O error. Errors are one line on stderr.
#include "commands.hpp"

#include <mer/core/error.hpp>
#include <mer/core/log.hpp>

#include <c10/util/Exception.h>
#include <opencv2/core.hpp>

#include <cstdio>

namespace {
int fail(const char* kind, const std::string& what, int code) {
  std::fprintf(stderr, "mer: %s: %s\n", kind, what.c_str());
  return code;
}
// LibTorch's messages carry a C++ backtrace; the first line is the message.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }
}  // namespace

int main(int argc, char** argv) {
  mer::cli::worker_guard();
  CLI::App app{"libmer: deep-learning micro-expression recognition"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();
  app.parse_complete_callback([&] { mer::set_log_level(log_level); });
  mer::cli::add_train(app);
  mer::cli::add_eval(app);
  mer::cli::add_synth(app);
  mer::cli::add_data(app);
  mer::cli::add_spot(app);
  mer::cli::add_config(app);
  mer::cli::add_list(app);
  mer::cli::add_model(app);
  mer::cli::add_version(app);
  mer::cli::add_preprocess(app);
  mer::cli::add_cache(app);
  mer::cli::add_bench(app);
  mer::cli::add_report(app);
  mer::cli::add_predict(app);
  mer::cli::add_export(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    return fail("usage error", std::string(e.what()) + " (run with --help for usage)", 2);
  } catch (const mer::Error& e) {
    return fail(e.kind(), e.what(), e.exit_code());
  } catch (const c10::Error& e) {
    return fail("internal error (LibTorch)", first_line(e.what()), 1);
  } catch (const cv::Exception& e) {
    return fail("internal error (OpenCV)", first_line(e.what()), 1);
  } catch (const std::exception& e) {
    return fail("internal error", first_line(e.what()), 1);
  }
}
