#pragma once
// `mer report html`: a run's Markdown report as one self-contained HTML page (images inlined), that opens
// in any browser without the run folder beside it.
#include <filesystem>
#include <string>

namespace mer::cli {

/// Renders `markdown_file` (GitHub-flavoured Markdown: tables, images) to a complete HTML page. Every
/// image the Markdown references by a relative path is read from the Markdown's folder and inlined as a
/// data: URI; a missing image is an IoError naming it.
std::string render_html_report(const std::filesystem::path& markdown_file, const std::string& title);

}  // namespace mer::cli
