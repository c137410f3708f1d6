// Markdown → HTML with cmark-gfm (Debian's libcmark-gfm-dev): GitHub's own Markdown dialect, so
// summary.md reads the same on GitHub, in an editor's preview and in this page, and no hand-written
// Markdown parser has to keep up with the reports' tables.
#include "html_report.hpp"

#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include <cstdlib>
#include <memory>
#include <regex>

namespace mer::cli {
namespace fs = std::filesystem;

namespace {

std::string base64(const std::string& in) {
  static const char* const k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

std::string markdown_to_html(const std::string& md) {
  cmark_gfm_core_extensions_ensure_registered();
  std::unique_ptr<cmark_parser, void (*)(cmark_parser*)> parser(cmark_parser_new(CMARK_OPT_DEFAULT), cmark_parser_free);
  cmark_syntax_extension* table = cmark_find_syntax_extension("table");
  MER_CHECK(table != nullptr, InternalError, "cmark-gfm has no table extension");
  cmark_parser_attach_syntax_extension(parser.get(), table);
  cmark_parser_feed(parser.get(), md.data(), md.size());
  std::unique_ptr<cmark_node, void (*)(cmark_node*)> doc(cmark_parser_finish(parser.get()), cmark_node_free);
  char* html = cmark_render_html(doc.get(), CMARK_OPT_DEFAULT, cmark_parser_get_syntax_extensions(parser.get()));
  std::string out(html);
  std::free(html);
  return out;
}

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

// After load, the page records how many of its images failed to decode, so a headless browser's DOM dump
// can tell a page that rendered from one with broken pictures (tests/support/html_check.sh reads it).
const char* const kImageCheck = R"(<script>
window.addEventListener('load', function () {
  var broken = 0;
  for (var i = 0; i < document.images.length; ++i)
    if (!(document.images[i].complete && document.images[i].naturalWidth > 0)) ++broken;
  document.body.setAttribute('data-images-total', document.images.length);
  document.body.setAttribute('data-images-broken', broken);
});
</script>)";

}  // namespace

std::string render_html_report(const fs::path& markdown_file, const std::string& title) {
  auto html = markdown_to_html(read_file(markdown_file));
  // Inline every relative image; cmark writes them as <img src="file.png" ...>.
  static const std::regex img(R"re(<img src="([^":]+)")re");
  std::string out;
  std::size_t last = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), img); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    const fs::path file = markdown_file.parent_path() / m[1].str();
    MER_CHECK(fs::exists(file), IoError, "'", markdown_file.string(), "' shows the image '", m[1].str(),
              "', which is not in ", markdown_file.parent_path().string());
    const auto ext = file.extension().string();
    const std::string mime = ext == ".png" ? "image/png" : ext == ".svg" ? "image/svg+xml" : "image/jpeg";
    out += html.substr(last, static_cast<std::size_t>(m.position(0)) - last);
    out += "<img src=\"data:" + mime + ";base64," + base64(read_file(file)) + "\"";
    last = static_cast<std::size_t>(m.position(0) + m.length(0));
  }
  out += html.substr(last);
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + escape(title) +
         "</title>\n<style>\n"
         "body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }\n"
         "table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: 3px 8px; }\n"
         "th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }\n"
         "img { max-width: 100%; } blockquote { border-left: 4px solid #d33; margin: 1em 0; padding: 0.2em 1em; background: #fff4f4; }\n"
         "code { background: #f3f3f3; padding: 0 3px; }\n</style>\n" +
         kImageCheck + "\n</head>\n<body>\n" + out + "</body>\n</html>\n";
}

}  // namespace mer::cli
