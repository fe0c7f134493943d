// The dashboard's static files (src/web/assets/), embedded into the binary
// at build time by embed_assets.cmake. Each returns the file's bytes
// (UTF-8 text), static for the life of the process.
#ifndef TASKGRID_WEB_DASHBOARD_ASSETS_H_
#define TASKGRID_WEB_DASHBOARD_ASSETS_H_

#include <string_view>

namespace taskgrid::dashboard_assets {

std::string_view html();  // assets/dashboard.html, with @DASHBOARD_CSS@ and
                          // @DASHBOARD_JS@ where the other two go
std::string_view css();   // assets/dashboard.css
std::string_view js();    // assets/dashboard.js

}  // namespace taskgrid::dashboard_assets

#endif  // TASKGRID_WEB_DASHBOARD_ASSETS_H_
