// End-to-end test of the dashboard in headless chromium (run by run.sh).
//
//   taskgrid_testbin master --http ──► the dashboard page (chromium)
//          ▲  gRPC                          │ polls /api, POSTs rerun
//   taskgrid_testbin worker (2 slots)       ▼ (asks for the cluster token)
//
// A shell job of 24 files, ~0.4 s each, where 3 files carry a `.bad` marker
// and their tasks die. The test watches the job page while the job runs
// (progress must advance), waits for the job to fail, filters the task list
// to dead tasks, opens one task and its log, removes that file's marker
// (the "fix"), presses "Rerun this task" (answering the token prompt) and
// waits for the task to succeed: the cluster master reruns it at once. (A
// local `dashboard` only marks tasks for `taskgrid resume`, so the cluster
// path is the one where the button alone makes the task run.)
//
// Environment: TASKGRID_TESTBIN, TASKGRID_CHROMIUM, TASKGRID_NODE_MODULES,
// TASKGRID_ARTIFACTS (screenshots).
import {spawn, execFileSync} from "node:child_process";
import {createRequire} from "node:module";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(name + " is not set (run this through run.sh)");
  return v;
};
const testbin = env("TASKGRID_TESTBIN");
const artifacts = env("TASKGRID_ARTIFACTS");
const require = createRequire(path.join(env("TASKGRID_NODE_MODULES"), "x.js"));
const {chromium} = require("playwright-core");

const started = Date.now();
const log = (msg) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  log("ok: " + what);
}
async function waitFor(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(100);
  }
}
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "taskgrid-browser-"));
fs.rmSync(artifacts, {recursive: true, force: true});
fs.mkdirSync(artifacts, {recursive: true});
const procs = [];
function start(name, args) {
  const out = fs.openSync(path.join(dir, name + ".log"), "w");
  const p = spawn(testbin, args, {cwd: dir, stdio: ["ignore", out, out]});
  procs.push(p);
  return () => fs.readFileSync(path.join(dir, name + ".log"), "utf8");
}

let browser;
let failed = false;
try {
  // ---- the cluster and the job ----
  const token = "browser-test-token";
  fs.writeFileSync(path.join(dir, "token"), token + "\n", {mode: 0o600});
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const master = `127.0.0.1:${grpcPort}`;
  const base = `http://127.0.0.1:${httpPort}`;
  const masterLog = start("master", [
    "master", "--store", path.join(dir, "state.db"), "--listen", master,
    "--token-file", path.join(dir, "token"), "--http", `127.0.0.1:${httpPort}`,
    "--worker-timeout", "1500", "--leader-lease", "2000"]);
  start("worker", ["worker", "--master", master, "--token-file",
                   path.join(dir, "token"), "--slots", "2", "--id", "w1"]);
  await waitFor("the master to lead",
                () => masterLog().includes("leading the cluster"));

  const inDir = path.join(dir, "in");
  fs.mkdirSync(inDir);
  const bad = [5, 12, 19];
  for (let i = 0; i < 24; ++i) {
    const f = path.join(inDir, `f-${String(i).padStart(2, "0")}.txt`);
    fs.writeFileSync(f, `line of file ${i}\n`);
    if (bad.includes(i)) fs.writeFileSync(f + ".bad", "");
  }
  const spec = path.join(dir, "job.yaml");
  fs.writeFileSync(spec, [
    "name: browser-demo", "processor: shell", "model: map",
    `input: {files: ["${inDir}/*.txt"]}`, `output: ${path.join(dir, "out")}`,
    "params: {command: 'sleep 0.4; if [ -e {}.bad ]; then " +
        "echo bad input {} >&2; exit 3; fi; cat {}'}",
    "retry: {max_attempts: 2, backoff: 50ms}", ""].join("\n"));
  const submitted = JSON.parse(execFileSync(testbin, [
    "submit", spec, "--json", "--master", master, "--token-file",
    path.join(dir, "token")], {cwd: dir, encoding: "utf8"}));
  const job = submitted.id ?? submitted.job;
  check(Number.isInteger(job), `job ${job} submitted`);

  // ---- the browser ----
  browser = await chromium.launch({
    executablePath: env("TASKGRID_CHROMIUM"), headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]});
  const page = await browser.newPage({viewport: {width: 1280, height: 900}});
  const foreign = [];
  const pageErrors = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base + "/")) foreign.push(r.url());
  });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  let prompts = 0;
  page.on("dialog", async (d) => {
    if (d.type() === "prompt") {
      ++prompts;
      await d.accept(token);
    } else {
      await d.accept();
    }
  });
  const shot = async (name) => {
    const file = path.join(artifacts, name + ".png");
    await page.screenshot({path: file, fullPage: true});
    log("screenshot " + file);
  };
  const text = (sel) => page.locator(sel).first().textContent();
  const finished = async () => {
    const t = await text("#job-progress");
    const m = /^(\d+) \/ (\d+)/.exec(t || "");
    return m ? Number(m[1]) : -1;
  };

  // The job page while the job runs: progress advances on its own.
  await page.goto(`${base}/#/jobs/${job}`);
  await waitFor("the job page", async () => (await finished()) >= 0);
  const first = await finished();
  const firstState = await text("#job-state");
  await shot("1-job-running");
  check(first < 24, `job page loaded while running (${first}/24 finished, ` +
                    `state ${firstState})`);
  const later = await waitFor("progress to advance", async () => {
    const n = await finished();
    return n > first ? n : 0;
  });
  check(later > first, `progress advanced without a reload (${first} -> ${later})`);
  check(await page.locator("#chart").count() === 1, "throughput chart drawn");

  // The job ends failed: the dead tasks are listed first.
  await waitFor("the job to fail",
                async () => (await text("#job-state")) === "failed", 40000);
  await waitFor("the failed-task table",
                async () => (await page.locator("#failed-tasks tr[data-task]").count()) === 3);
  await shot("2-job-failed");
  check(true, "job failed with its 3 dead tasks listed on the job page");
  // Poll without Playwright's auto-wait: textContent() on a row not drawn
  // yet would block for its own timeout instead of returning.
  const mapRow = await waitFor("the stage table", async () => {
    const cells = await page.locator('#stages tr[data-stage="map"] td.num')
        .allTextContents();
    return cells[0] === "24 / 24" ? cells[0] : "";
  });
  check(mapRow === "24 / 24", "counts by stage: map 24 / 24 finished");

  // The task list, filtered to dead tasks.
  await page.goto(`${base}/#/jobs/${job}/tasks`);
  await waitFor("the task list",
                async () => (await page.locator("#tasks tr[data-task]").count()) === 24);
  await page.selectOption("#state-filter", "dead");
  await waitFor("the dead filter", async () =>
      page.url().includes("state=dead") &&
      (await page.locator("#tasks tr[data-task]").count()) === 3);
  const states = await page.locator("#tasks tr[data-task] .state").allTextContents();
  check(states.every((s) => s === "dead"), `filter state=dead shows 3 dead tasks`);
  await shot("3-tasks-dead");

  // Sorted by attempts, over all states: the dead tasks (2 attempts each)
  // come first.
  await page.selectOption("#state-filter", "");
  await page.selectOption("#sort-order", "attempts");
  // The rows of the unsorted list may show first: wait for the sorted ones
  // (the page info names the order once the sorted page is drawn).
  const sortedStates = await waitFor("the attempts order", async () => {
    if (!page.url().includes("sort=attempts") || page.url().includes("state=") ||
        !(await text("#page-info")).includes("by attempts")) {
      return null;
    }
    const s = await page.locator("#tasks tr[data-task] .state").allTextContents();
    return s.length === 24 ? s : null;
  });
  check(sortedStates.slice(0, 3).every((s) => s === "dead") &&
            sortedStates.slice(3).every((s) => s === "succeeded"),
        "sort=attempts lists the 3 dead tasks first");
  await shot("3b-tasks-by-attempts");
  await page.selectOption("#sort-order", "id");
  await page.selectOption("#state-filter", "dead");
  await waitFor("the dead filter again", async () =>
      page.url().includes("state=dead") &&
      (await page.locator("#tasks tr[data-task]").count()) === 3);

  // One dead task: its log says why.
  await page.locator("#tasks tr[data-task] a").first().click();
  await waitFor("the task page", async () => (await text("#task-state")) === "dead");
  const taskLog = await page.locator("#attempts").textContent();
  check(taskLog.includes("bad input"), "the task's log shows the error");
  check((await page.locator("#attempts .attempt").count()) >= 2,
        "both attempts listed");
  await shot("4-task-dead");

  // Fix the input, rerun the task from the page, see it succeed.
  const payload = (await text("#payload")).trim();
  check(fs.existsSync(payload + ".bad"), `payload ${payload} is a bad input`);
  fs.rmSync(payload + ".bad");
  await page.click("#rerun-task");
  await waitFor("the task to succeed",
                async () => (await text("#task-state")) === "succeeded", 30000);
  check(prompts === 1, "the page asked for the cluster token once");
  const after = await page.locator("#attempts").textContent();
  check(/attempt 3 \(current\)/.test(after), "the rerun is attempt 3");
  await shot("5-task-rerun-succeeded");

  // The jobs list and the workers page.
  await page.goto(`${base}/#/`);
  await waitFor("the jobs list",
                async () => (await page.locator(`#jobs tr[data-job="${job}"]`).count()) === 1);
  await shot("6-jobs");
  await page.goto(`${base}/#/workers`);
  await waitFor("worker w1", async () =>
      ((await page.locator("#workers").textContent()) || "").includes("w1"));
  await shot("7-workers");
  check(true, "jobs list and workers page render");

  check(foreign.length === 0, "no request left the server: " + foreign.join(" "));
  check(pageErrors.length === 0, "no script errors: " + pageErrors.join(" "));
  log(`browser_dashboard: 1 passed, 0 failed (screenshots in ${artifacts})`);
} catch (e) {
  failed = true;
  console.error("browser_dashboard FAILED: " + (e.stack || e));
  for (const name of ["master", "worker"]) {
    const f = path.join(dir, name + ".log");
    if (fs.existsSync(f)) {
      console.error(`---- ${name}.log (tail) ----\n` +
                    fs.readFileSync(f, "utf8").split("\n").slice(-30).join("\n"));
    }
  }
  console.error(`screenshots so far in ${artifacts}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const p of procs) p.kill("SIGTERM");
  await Promise.all(procs.map((p) => p.exitCode != null ? null :
      new Promise((r) => { p.on("exit", r); setTimeout(() => { p.kill("SIGKILL"); r(); }, 5000); })));
  if (!failed) fs.rmSync(dir, {recursive: true, force: true});
}
process.exit(failed ? 1 : 0);
