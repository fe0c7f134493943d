// The page served at `/`: the dashboard (jobs, one job, its tasks, one
// task, workers), one self-contained HTML document with its CSS and
// JavaScript inline — no external script, style or font, so it works with
// no network but this server's. Its sources are src/web/assets/; the views
// call the JSON API of docs/api.md and poll it while a job runs.
#ifndef TASKGRID_WEB_DASHBOARD_PAGE_H_
#define TASKGRID_WEB_DASHBOARD_PAGE_H_

#include <string_view>

namespace taskgrid {

// The HTML document (UTF-8), static for the life of the process.
// Thread-safe.
std::string_view DashboardPageHtml();

}  // namespace taskgrid

#endif  // TASKGRID_WEB_DASHBOARD_PAGE_H_
