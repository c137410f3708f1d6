#include "commands.hpp"

#include <mer/core/version.hpp>

#include <dlib/revision.h>
#include <opencv2/core/version.hpp>
#include <torch/version.h>

#include <cstdio>

namespace mer::cli {

void add_version(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print versions of libmer and its main dependencies");
  cmd->callback([] {
    std::printf("libmer %s (%s)\nLibTorch %s\nOpenCV %s\ndlib %d.%d.%d\n", version().c_str(), git_commit().c_str(),
                TORCH_VERSION, CV_VERSION, DLIB_MAJOR_VERSION, DLIB_MINOR_VERSION, DLIB_PATCH_VERSION);
  });
}

}  // namespace mer::cli
