#include "web/dashboard_page.h"

namespace taskgrid {
namespace {

// Everything inline: the page must work without any network but this
// server's. Text from the API goes in with textContent, never as HTML.
constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskgrid</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.3em; }
  table { border-collapse: collapse; min-width: 60%; }
  th, td { padding: .35em .8em; border-bottom: 1px solid #ddd;
           text-align: left; white-space: nowrap; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { width: 160px; height: .8em; background: #eee; border-radius: 3px;
         overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar > div { height: 100%; background: #3a7; }
  .state-failed, .state-cancelled { color: #b33; }
  .state-running { color: #27a; }
  #error { color: #b33; }
</style>
</head>
<body>
<h1>taskgrid jobs</h1>
<p id="error"></p>
<table>
  <thead><tr><th>ID</th><th>Name</th><th>State</th><th>Progress</th>
  <th>Tasks</th><th>Dead</th><th>Created</th><th>Finished</th></tr></thead>
  <tbody id="jobs"></tbody>
</table>
<p><small>JSON API: <a href="/api/jobs">/api/jobs</a>,
<a href="/api/workers">/api/workers</a>, <a href="/metrics">/metrics</a>
</small></p>
<script>
"use strict";
function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}
async function refresh() {
  try {
    const r = await fetch("/api/jobs?limit=100", {cache: "no-store"});
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    const tbody = document.getElementById("jobs");
    tbody.replaceChildren();
    for (const j of body.jobs) {
      const c = j.counts;
      const done = c.succeeded + c.dead + c.cancelled;
      const row = tbody.insertRow();
      cell(row, j.id, "num");
      cell(row, j.name);
      cell(row, j.state, "state-" + j.state);
      const bar = document.createElement("div");
      bar.className = "bar";
      const fill = document.createElement("div");
      fill.style.width = (j.tasks ? 100 * done / j.tasks : 0) + "%";
      bar.appendChild(fill);
      row.insertCell().appendChild(bar);
      cell(row, done + " / " + j.tasks, "num");
      cell(row, c.dead, "num");
      cell(row, j.created);
      cell(row, j.finished);
    }
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot load jobs: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

}  // namespace

std::string_view DashboardPageHtml() { return kPage; }

}  // namespace taskgrid
