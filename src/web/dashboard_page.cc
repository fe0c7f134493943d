#include "web/dashboard_page.h"

#include <string>

#include "web/dashboard_assets.h"

namespace taskgrid {
namespace {

// Replaces the one `marker` in `page` by `text`. The markers are in our own
// template, so a missing one is a build mistake the page test catches.
void Fill(std::string& page, std::string_view marker, std::string_view text) {
  const size_t at = page.find(marker);
  if (at != std::string::npos) page.replace(at, marker.size(), text);
}

std::string Assemble() {
  // The CSS and JavaScript go inline (the server's CSP allows only inline
  // script and style): one request loads the whole dashboard.
  std::string page(dashboard_assets::html());
  Fill(page, "@DASHBOARD_CSS@", dashboard_assets::css());
  Fill(page, "@DASHBOARD_JS@", dashboard_assets::js());
  return page;
}

}  // namespace

std::string_view DashboardPageHtml() {
  static const std::string* const page = new std::string(Assemble());
  return *page;
}

}  // namespace taskgrid
