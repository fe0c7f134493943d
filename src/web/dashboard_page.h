// The page served at `/`: for now a minimal, self-contained job list that
// polls GET /api/jobs (no external script, style or font). The full
// dashboard (job, task and worker pages) replaces it.
#ifndef TASKGRID_WEB_DASHBOARD_PAGE_H_
#define TASKGRID_WEB_DASHBOARD_PAGE_H_

#include <string_view>

namespace taskgrid {

// The HTML document (UTF-8), static for the life of the process.
std::string_view DashboardPageHtml();

}  // namespace taskgrid

#endif  // TASKGRID_WEB_DASHBOARD_PAGE_H_
