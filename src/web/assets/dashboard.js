// taskgrid dashboard: hash-routed views over the JSON API (docs/api.md).
//   #/                      jobs
//   #/jobs/ID               one job: progress, counts, throughput, failures
//   #/jobs/ID/tasks?state=&stage=&sort=&after=&offset=
//                                          its tasks, paged on the server
//   #/jobs/ID/tasks/TID     one task: payload, attempts, log
//   #/workers               workers
// Each view has mount() (builds the page) and update() (fetches and fills
// it in, unless the address changed meanwhile: stale()); update() runs
// again every second while the view is live. Text
// from the API always goes in with textContent, never as HTML.
"use strict";

const STATES = ["pending", "dispatched", "running", "succeeded", "failed",
                "dead", "cancelled"];
const POLL_MS = 1000;
const PAGE = 50;  // tasks per page of the task list

// el("td", {class: "num"}, "text", child, ...)
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) {
    if (k == null) continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}
const $ = (id) => document.getElementById(id);
function setText(id, text) { const e = $(id); if (e) e.textContent = text; }
function stateSpan(s) { return el("span", {class: "state t-" + s}, s); }

// What a rerun did. Without a cluster (no leader ever), nothing runs the
// tasks until `taskgrid resume`: say so.
async function rerunMessage(job, n) {
  let msg = "rerun " + n + " task(s)";
  try {
    const c = await getJson("/api/workers");
    if (!c.leader || !c.leader.owner) {
      msg += "; run `taskgrid resume " + job + "` to run them";
    }
  } catch (e) {
    // The message without the hint.
  }
  return msg;
}

async function getJson(path) {
  const r = await fetch(path, {cache: "no-store"});
  const body = await r.json().catch(() => ({error: r.statusText}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// POSTs carry the token from sessionStorage; on 401 the page asks for it
// once (a cluster master's --http needs the cluster token) and retries.
async function postJson(path, body) {
  for (let tries = 0; ; ++tries) {
    const headers = {"Content-Type": "application/json"};
    const token = sessionStorage.getItem("taskgrid-token");
    if (token) headers["Authorization"] = "Bearer " + token;
    const r = await fetch(path, {method: "POST", headers,
                                 body: body ? JSON.stringify(body) : ""});
    const res = await r.json().catch(() => ({error: r.statusText}));
    if (r.status === 401 && tries < 2) {
      const t = prompt("This server needs the cluster token for changes:");
      if (!t) throw new Error("no token given");
      sessionStorage.setItem("taskgrid-token", t.trim());
      continue;
    }
    if (!r.ok) throw new Error(res.error || r.statusText);
    return res;
  }
}

function doneOf(c) { return c.succeeded + c.dead + c.cancelled; }
function ms(iso) { return iso ? Date.parse(iso) : null; }
function fmtDuration(msec) {
  if (msec == null || msec < 0) return "";
  const s = msec / 1000;
  if (s < 10) return s.toFixed(2) + " s";
  if (s < 120) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  if (m < 120) return m + " m " + Math.round(s % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " m";
}
function fmtTime(iso) { return iso ? iso.replace("T", " ").replace("Z", "") : ""; }
function jobDuration(j) {
  const start = ms(j.created);
  return start == null ? null : (ms(j.finished) || Date.now()) - start;
}
function throughput(j) {
  const d = jobDuration(j);
  return d ? (j.counts.succeeded + j.counts.dead) / (d / 1000) : 0;
}
function isLive(j) { return j.state === "pending" || j.state === "running"; }

// A bar split by task state; `big` for the job page.
function stateBar(counts, total, big) {
  const bar = el("div", {class: big ? "bar big" : "bar",
                         title: STATES.map((s) => s + " " + counts[s]).join(", ")});
  for (const s of ["succeeded", "dead", "cancelled", "failed", "running",
                   "dispatched"]) {
    if (!counts[s] || !total) continue;
    const seg = el("div", {class: "s-" + s});
    seg.style.width = (100 * counts[s] / total) + "%";
    bar.append(seg);
  }
  return bar;
}
function countsText(c) {
  return el("span", {class: "counts"}, ...STATES.filter((s) => c[s])
      .map((s) => el("span", {}, s + " " + c[s])));
}

function flash(text, isError) {
  setText("error", isError ? text : "");
  const m = $("message");
  if (m && !isError) m.textContent = text;
}

// ---- jobs ----------------------------------------------------------------
const JobsView = {
  mount(view) {
    view.append(el("h1", {}, "Jobs"), el("table", {},
        el("thead", {}, el("tr", {}, ...["ID", "Name", "State", "Progress",
            "Done", "Counts", "Created", "Duration", "Tasks/s"].map(
            (h) => el("th", {}, h)))),
        el("tbody", {id: "jobs"})));
  },
  async update(p) {
    const body = await getJson("/api/jobs?limit=100");
    if (stale(p)) return false;
    const rows = body.jobs.map((j) => el("tr", {"data-job": j.id},
        el("td", {class: "num"}, el("a", {href: "#/jobs/" + j.id}, j.id)),
        el("td", {}, el("a", {href: "#/jobs/" + j.id}, j.name)),
        el("td", {}, stateSpan(j.state)),
        el("td", {}, stateBar(j.counts, j.tasks)),
        el("td", {class: "num"}, doneOf(j.counts) + " / " + j.tasks),
        el("td", {}, countsText(j.counts)),
        el("td", {}, fmtTime(j.created)),
        el("td", {class: "num"}, fmtDuration(jobDuration(j))),
        el("td", {class: "num"}, throughput(j).toFixed(1))));
    $("jobs").replaceChildren(...rows);
    if (!rows.length) {
      $("jobs").append(el("tr", {}, el("td", {colspan: 9, class: "muted"},
                                            "no jobs yet")));
    }
    return true;  // always live: new jobs appear
  },
};

// ---- one job -------------------------------------------------------------
// Throughput samples (time, finished tasks) of the job on screen, from the
// polls; the chart plots finished tasks per second between samples.
let samples = {job: null, points: []};

function drawChart(canvas, points) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 30;
  g.clearRect(0, 0, w, h);
  g.font = "11px sans-serif";
  g.fillStyle = "#888";
  const rates = [];
  for (let i = 1; i < points.length; ++i) {
    const dt = (points[i].t - points[0].t) / 1000;
    const r = (points[i].done - points[i - 1].done) /
              Math.max(0.001, (points[i].t - points[i - 1].t) / 1000);
    rates.push({x: dt, y: Math.max(0, r)});
  }
  if (!rates.length) {
    g.fillText("collecting samples…", pad, h / 2);
    return;
  }
  const maxX = Math.max(10, rates[rates.length - 1].x);
  const maxY = Math.max(1, ...rates.map((p) => p.y)) * 1.1;
  g.strokeStyle = "#ccc";
  g.beginPath(); g.moveTo(pad, 5); g.lineTo(pad, h - pad);
  g.lineTo(w - 5, h - pad); g.stroke();
  g.fillText(maxY.toFixed(1) + "/s", 2, 12);
  g.fillText("0", pad - 10, h - pad);
  g.fillText(maxX.toFixed(0) + " s", w - 35, h - pad + 14);
  g.strokeStyle = "#3b82c4";
  g.lineWidth = 2;
  g.beginPath();
  rates.forEach((p, i) => {
    const x = pad + (w - pad - 5) * p.x / maxX;
    const y = h - pad - (h - pad - 5) * p.y / maxY;
    if (i) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.stroke();
}

function taskRow(jobId, t) {
  return el("tr", {"data-task": t.id},
      el("td", {class: "num"},
         el("a", {href: "#/jobs/" + jobId + "/tasks/" + t.id}, t.id)),
      el("td", {}, t.stage),
      el("td", {}, stateSpan(t.state)),
      el("td", {class: "num"}, t.attempt),
      el("td", {}, t.worker || ""),
      el("td", {}, fmtTime(t.started)),
      el("td", {class: "num"}, fmtDuration(t.duration_ms)),
      el("td", {class: "wrap"}, t.error || ""),
      el("td", {class: "wrap"}, (t.payload || "").slice(0, 80)));
}
function taskTable(id) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...["ID", "Stage",
      "State", "Attempt", "Worker", "Started", "Duration", "Error",
      "Payload"].map((h) => el("th", {}, h)))), el("tbody", {id}));
}

const JobView = {
  mount(view, p) {
    const id = p.job;
    if (samples.job !== id) samples = {job: id, points: []};
    view.append(
        el("h1", {}, "Job " + id + " ", el("span", {id: "job-name"}), " ",
           el("span", {id: "job-state", class: "state"})),
        el("div", {}, stateBar({}, 0, true)),
        el("p", {}, el("span", {id: "job-progress"}), " · ",
           el("span", {id: "job-duration"}), " · ",
           el("span", {id: "job-rate"}), " · ",
           el("a", {href: "#/jobs/" + id + "/tasks"}, "all tasks")),
        el("div", {class: "actions"},
           el("button", {id: "rerun-failed", onclick: () => this.act(id, "rerun")},
              "Rerun failed"),
           el("button", {id: "cancel-job", class: "danger",
                         onclick: () => this.act(id, "cancel")}, "Cancel job"),
           el("span", {id: "message", class: "msg"})),
        el("div", {style: "display:flex; gap:3em; flex-wrap:wrap"},
           el("div", {}, el("h2", {}, "Tasks by state"),
              el("table", {class: "histo", id: "histo"})),
           el("div", {}, el("h2", {}, "Tasks by stage"),
              el("table", {class: "histo", id: "stages"})),
           el("div", {}, el("h2", {}, "Throughput (finished tasks/s)"),
              el("canvas", {id: "chart", width: 480, height: 160}))),
        el("h2", {}, "Failed and dead tasks ",
           el("a", {id: "failed-link",
                    href: "#/jobs/" + id + "/tasks?state=dead"}, "(all dead)")),
        taskTable("failed-tasks"),
        el("h2", {}, "Details"),
        el("table", {class: "kv", id: "job-kv"}));
  },
  async act(id, what) {
    try {
      if (what === "cancel" && !confirm("Cancel job " + id + "?")) return;
      const r = what === "rerun"
          ? await postJson("/api/jobs/" + id + "/rerun", {failed: true})
          : await postJson("/api/jobs/" + id + "/cancel");
      flash(what === "rerun" ? await rerunMessage(id, r.rerun)
                             : "job " + r.state);
      samples.points = [];
      router.refresh();
    } catch (e) {
      flash(what + " failed: " + e.message, true);
    }
  },
  async update(p) {
    const id = p.job;
    const [j, dead, failed] = await Promise.all([
      getJson("/api/jobs/" + id),
      getJson("/api/jobs/" + id + "/tasks?state=dead&limit=20"),
      getJson("/api/jobs/" + id + "/tasks?state=failed&limit=20")]);
    if (stale(p)) return false;
    const c = j.counts, done = doneOf(c);
    setText("job-name", j.name);
    const st = $("job-state");
    st.textContent = j.state;
    st.className = "state t-" + j.state;
    document.querySelector(".bar.big").replaceWith(stateBar(c, j.tasks, true));
    setText("job-progress", done + " / " + j.tasks + " tasks finished (" +
            (j.tasks ? Math.floor(100 * done / j.tasks) : 0) + "%)");
    setText("job-duration", fmtDuration(jobDuration(j)));
    setText("job-rate", throughput(j).toFixed(1) + " tasks/s");
    $("rerun-failed").disabled = !(c.failed + c.dead) || isLive(j);
    $("cancel-job").disabled = !isLive(j);
    const max = Math.max(1, ...STATES.map((s) => c[s]));
    $("histo").replaceChildren(...STATES.map((s) => {
      const b = el("div", {class: "hbar s-" + s});
      b.style.width = (160 * c[s] / max) + "px";
      return el("tr", {"data-state": s},
                el("td", {}, el("a", {href: "#/jobs/" + id + "/tasks?state=" + s}, s)),
                el("td", {class: "num"}, c[s]), el("td", {}, b));
    }));
    $("stages").replaceChildren(...(j.stages || []).map((g) =>
        el("tr", {"data-stage": g.stage},
           el("td", {}, el("a", {href: "#/jobs/" + id + "/tasks?stage=" +
                                       encodeURIComponent(g.stage)}, g.stage)),
           el("td", {class: "num"}, doneOf(g.counts) + " / " + g.tasks),
           el("td", {}, stateBar(g.counts, g.tasks, false)))));
    if (isLive(j) || samples.points.length < 2) {
      samples.points.push({t: Date.now(), done: c.succeeded + c.dead});
      if (samples.points.length > 600) samples.points.shift();
    }
    drawChart($("chart"), samples.points);
    const rows = [...dead.tasks, ...failed.tasks].map((t) => taskRow(id, t));
    $("failed-tasks").replaceChildren(...rows);
    if (!rows.length) {
      $("failed-tasks").append(el("tr", {}, el("td", {colspan: 9,
          class: "muted"}, "none")));
    }
    $("job-kv").replaceChildren(...[["created", fmtTime(j.created)],
        ["finished", fmtTime(j.finished)], ["owner", j.owner],
        ["key", j.key || ""], ["result", j.result]]
        .map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {class: "wrap"}, v))),
        el("tr", {}, el("th", {}, "spec"), el("td", {}, el("pre", {}, j.spec))));
    return isLive(j);
  },
};

// ---- a job's tasks ---------------------------------------------------------
const TasksView = {
  mount(view, p) {
    const id = p.job, q = p.query;
    // From the address as it is now, not as it was at mount: two quick
    // changes (state, then sort) must both stick.
    const go = (changes) => {
      const hash = location.hash;
      const at = hash.indexOf("?");
      const next = new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
      for (const [k, v] of Object.entries(changes)) {
        if (v) next.set(k, v); else next.delete(k);
      }
      location.hash = "#/jobs/" + id + "/tasks" +
                      (next.toString() ? "?" + next : "");
    };
    const stateSel = el("select", {id: "state-filter",
                                   onchange: (e) => go({state: e.target.value, after: "", offset: ""})},
        el("option", {value: ""}, "any state"),
        ...STATES.map((s) => el("option", {value: s}, s)));
    stateSel.value = q.get("state") || "";
    const stageIn = el("input", {id: "stage-filter", placeholder: "any stage",
                                 size: 12, value: q.get("stage") || "",
                                 onchange: (e) => go({stage: e.target.value.trim(), after: "", offset: ""})});
    const sortSel = el("select", {id: "sort-order",
                                  onchange: (e) => go({sort: e.target.value === "id" ? "" : e.target.value,
                                                       after: "", offset: ""})},
        el("option", {value: "id"}, "task id"),
        el("option", {value: "duration"}, "duration (longest first)"),
        el("option", {value: "attempts"}, "attempts (most first)"));
    sortSel.value = q.get("sort") || "id";
    view.append(
        el("h1", {}, el("a", {href: "#/jobs/" + id}, "Job " + id), " › tasks"),
        el("div", {class: "filters"}, el("label", {}, "State ", stateSel),
           el("label", {}, "Stage ", stageIn),
           el("label", {}, "Sort by ", sortSel),
           el("span", {id: "page-info", class: "muted"})),
        taskTable("tasks"),
        el("div", {class: "pager"},
           el("a", {id: "first-page", href: "#"}, "« first page"),
           el("a", {id: "prev-page", href: "#"}, "‹ previous page"),
           el("a", {id: "next-page", href: "#"}, "next page »")));
    this.go = go;
  },
  // The `after` of the pages before this one (id order pages by key, which
  // only goes forward): pushed by "next", popped by "previous".
  trail: [],
  async update(p) {
    const id = p.job, q = p.query;
    const sorted = !!q.get("sort") && q.get("sort") !== "id";
    const api = new URLSearchParams({limit: String(PAGE)});
    for (const k of ["state", "stage", "sort", sorted ? "offset" : "after"]) {
      if (q.get(k)) api.set(k, q.get(k));
    }
    const [body, j] = await Promise.all([
      getJson("/api/jobs/" + id + "/tasks?" + api),
      getJson("/api/jobs/" + id)]);
    if (stale(p)) return false;
    $("tasks").replaceChildren(...body.tasks.map((t) => taskRow(id, t)));
    if (!body.tasks.length) {
      $("tasks").append(el("tr", {}, el("td", {colspan: 9, class: "muted"},
                                            "no tasks match")));
    }
    const offset = Number(q.get("offset") || 0);
    setText("page-info", !body.tasks.length ? "" : sorted
        ? "tasks " + (offset + 1) + "–" + (offset + body.tasks.length) +
          " by " + q.get("sort")
        : "tasks " + body.tasks[0].id + "–" + body.tasks[body.tasks.length - 1].id +
          " (ids after " + (q.get("after") || 0) + ")");
    const first = $("first-page"), prev = $("prev-page"), next = $("next-page");
    const here = sorted ? offset : Number(q.get("after") || 0);
    if (!here) this.trail = [];
    first.hidden = !here;
    first.onclick = (e) => {
      e.preventDefault();
      this.trail = [];
      this.go({after: "", offset: ""});
    };
    prev.hidden = sorted ? !offset : !this.trail.length;
    prev.onclick = (e) => {
      e.preventDefault();
      if (sorted) {
        this.go({offset: offset > PAGE ? String(offset - PAGE) : ""});
      } else {
        const back = this.trail.pop();
        this.go({after: back ? String(back) : ""});
      }
    };
    const nextAt = sorted ? body.next_offset : body.next_after;
    next.hidden = nextAt == null;
    next.onclick = (e) => {
      e.preventDefault();
      if (sorted) {
        this.go({offset: String(nextAt)});
      } else {
        this.trail.push(here);
        this.go({after: String(nextAt)});
      }
    };
    return isLive(j);
  },
};

// ---- one task ------------------------------------------------------------
const TaskView = {
  mount(view, p) {
    const {job, task} = p;
    view.append(
        el("h1", {}, el("a", {href: "#/jobs/" + job}, "Job " + job), " › ",
           el("a", {href: "#/jobs/" + job + "/tasks"}, "tasks"), " › task " + task,
           " ", el("span", {id: "task-state", class: "state"})),
        el("div", {class: "actions"},
           el("button", {id: "rerun-task", onclick: () => this.rerun(job, task)},
              "Rerun this task"),
           el("span", {id: "message", class: "msg"})),
        el("table", {class: "kv", id: "task-kv"}),
        el("h2", {}, "Payload"), el("pre", {id: "payload"}),
        el("h2", {}, "Result"), el("pre", {id: "result"}),
        el("h2", {}, "Attempts and log"), el("div", {id: "attempts"}));
  },
  async rerun(job, task) {
    try {
      const r = await postJson("/api/jobs/" + job + "/rerun", {tasks: [task]});
      flash(await rerunMessage(job, r.rerun));
      router.refresh();
    } catch (e) {
      flash("rerun failed: " + e.message, true);
    }
  },
  async update(p) {
    const [b, j] = await Promise.all([
      getJson("/api/jobs/" + p.job + "/tasks/" + p.task),
      getJson("/api/jobs/" + p.job)]);
    if (stale(p)) return false;
    const t = b.task;
    const st = $("task-state");
    st.textContent = t.state;
    st.className = "state t-" + t.state;
    const inFlight = ["dispatched", "running"].includes(t.state);
    $("rerun-task").disabled = inFlight || isLive(j) && t.state === "pending";
    $("task-kv").replaceChildren(...[["stage", t.stage], ["attempt", t.attempt],
        ["worker", t.worker || ""], ["started", fmtTime(t.started)],
        ["finished", fmtTime(t.finished)], ["duration", fmtDuration(t.duration_ms)],
        ["result size", t.result_size], ["error", t.error || ""],
        ["parent", t.parent == null ? "" : t.parent]]
        .map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {class: "wrap"}, v))));
    const payload = t.payload || "";
    setText("payload", payload.length > 4096
        ? payload.slice(0, 4096) + "\n… (" + payload.length + " characters)" : payload);
    setText("result", (t.result || "") + (t.result_truncated ? "\n… (truncated)" : ""));
    $("attempts").replaceChildren(...b.attempts.map((a) => el("div",
        {class: "attempt", "data-attempt": a.attempt},
        el("strong", {}, "attempt " + a.attempt + (a.current ? " (current)" : "")),
        a.current ? el("span", {class: "muted"}, " · " + [a.worker || "",
            fmtTime(a.started), fmtDuration(a.duration_ms)].filter(Boolean).join(" · ")) : null,
        a.error ? el("div", {class: "state t-dead"}, a.error) : null,
        el("div", {class: "log"}, ...(a.logs.length ? a.logs.map((l) =>
            el("div", {class: l.level}, fmtTime(l.time) + " " + l.level + " " + l.line))
            : [el("span", {class: "muted"}, "no log lines")])))));
    return isLive(j) || inFlight || t.state === "pending";
  },
};

// ---- workers -------------------------------------------------------------
const WorkersView = {
  mount(view) {
    view.append(el("h1", {}, "Workers"), el("p", {id: "leader"}),
        el("table", {}, el("thead", {}, el("tr", {}, ...["ID", "Host", "PID",
            "Slots", "Running", "Last seen"].map((h) => el("th", {}, h)))),
            el("tbody", {id: "workers"})),
        el("p", {id: "active-jobs"}));
  },
  async update(p) {
    const b = await getJson("/api/workers");
    if (stale(p)) return false;
    const l = b.leader || {};
    setText("leader", l.owner ? "Leader " + l.owner + " at " + l.address +
            " (epoch " + l.epoch + ", heartbeat " + fmtTime(l.heartbeat) + ")"
            : "No cluster leader (a local state file has no workers).");
    $("workers").replaceChildren(...b.workers.map((w) => el("tr", {},
        el("td", {}, w.id), el("td", {}, w.host), el("td", {class: "num"}, w.pid),
        el("td", {class: "num"}, w.slots), el("td", {class: "num"}, w.running),
        el("td", {}, fmtTime(w.last_seen)))));
    $("active-jobs").replaceChildren("Active jobs: ",
        ...(b.active_jobs.length ? b.active_jobs.map((id) =>
            el("a", {href: "#/jobs/" + id, style: "margin-right:.5em"}, id))
            : ["none"]));
    return true;
  },
};

// ---- routing and polling -------------------------------------------------
// Whether the page has moved on (another address) since an update for `p`
// began: its answers must not be drawn over the newer page's, which can
// arrive first (state filter, then sort order, in quick succession).
function stale(p) {
  return router.p !== p;
}

const router = {
  gen: 0,
  timer: null,
  parse() {
    const [path, qs] = location.hash.replace(/^#/, "").split("?");
    const query = new URLSearchParams(qs || "");
    let m;
    if ((m = path.match(/^\/jobs\/(\d+)\/tasks\/(\d+)$/))) {
      return {view: TaskView, job: m[1], task: Number(m[2]), query};
    }
    if ((m = path.match(/^\/jobs\/(\d+)\/tasks$/))) return {view: TasksView, job: m[1], query};
    if ((m = path.match(/^\/jobs\/(\d+)$/))) return {view: JobView, job: m[1], query};
    if (path === "/workers") return {view: WorkersView, query};
    return {view: JobsView, query};
  },
  mount() {
    this.p = this.parse();
    setText("error", "");
    const view = $("view");
    view.replaceChildren();
    this.p.view.mount(view, this.p);
    this.refresh();
  },
  // Fetches now; polls again in POLL_MS while the view says it is live.
  async refresh() {
    clearTimeout(this.timer);
    const gen = ++this.gen, p = this.p;
    let live = true;
    try {
      live = await p.view.update(p);
      if (gen !== this.gen) return;
      setText("error", "");
    } catch (e) {
      if (gen !== this.gen) return;
      setText("error", "cannot load: " + e.message);
    }
    setText("live", live ? "live · updated " + new Date().toLocaleTimeString()
                         : "finished · not polling");
    if (live) this.timer = setTimeout(() => this.refresh(), POLL_MS);
  },
};
window.addEventListener("hashchange", () => router.mount());
router.mount();
