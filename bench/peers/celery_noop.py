#!/usr/bin/python3
"""Peer benchmark: N no-op tasks end to end through Celery 5 with a Redis broker.

  /usr/bin/python3 bench/peers/celery_noop.py --redis-url redis://127.0.0.1:PORT [--tasks N]

The Redis server is started (and stopped) by the caller, bench/noop_e2e.sh: a
throwaway instance on loopback, no persistence. This script starts only what
it must, one Celery worker (prefork pool, concurrency 2), and stops it again.

Measured: from the first apply_async to the last result fetched, N tasks each
sent as its own Celery message (no group/chunks: one Celery task per subtask
is the comparison), results stored in Redis (db 1, broker on db 0) and
collected by the client. Worker start-up and a short warm-up are not timed.

Prints one line:
  RESULT peer=celery tasks=N seconds=S rate=R peak_rss_mib=M peak_pss_mib=P version=V
peak_*: peak over the run of the summed memory of client + worker tree
(+ redis-server when --redis-pid is given), see procmem.py.
Runs under Debian 12's /usr/bin/python3 with python3-celery and python3-redis.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import celery
from celery import Celery
from celery.result import ResultSet

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__/ in the source tree
sys.path.insert(0, HERE)
from procmem import PeakSampler  # noqa: E402

ENV_URL = "CELERY_NOOP_REDIS_URL"


def _urls(base: str) -> tuple[str, str]:
    base = base.rstrip("/")
    # Accept redis://host:port or redis://host:port/DB; broker on 0, results on 1.
    scheme_host = base.split("/", 3)
    root = "/".join(scheme_host[:3])
    return f"{root}/0", f"{root}/1"


app = Celery("celery_noop")


def configure(base_url: str) -> None:
    broker, backend = _urls(base_url)
    app.conf.update(
        broker_url=broker,
        result_backend=backend,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )


configure(os.environ.get(ENV_URL, "redis://127.0.0.1:6379"))


@app.task(name="bench.noop")
def noop(i):  # noqa: ARG001 - the task does nothing with its input
    return None


def _set_pdeathsig() -> None:
    """In the child: die with SIGTERM if this script dies, so no worker is orphaned."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_worker(url: str, concurrency: int, logfile: str) -> subprocess.Popen:
    env = dict(os.environ)
    env[ENV_URL] = url
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [
        sys.executable, "-m", "celery", "-A", "celery_noop", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency),
        "--loglevel", "WARNING", "--logfile", logfile,
        "--hostname", f"bench-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    return subprocess.Popen(
        cmd, cwd=HERE, env=env, stdin=subprocess.DEVNULL,
        stdout=open(logfile + ".out", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=_set_pdeathsig,
    )


def stop_worker(proc: subprocess.Popen, grace: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # warm shutdown: the pool children exit too
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker's session: main + pool
    except ProcessLookupError:
        pass
    proc.wait()


def submit_and_wait(n: int, timeout: float) -> float:
    """Sends n tasks, waits for every result; returns the elapsed seconds."""
    t0 = time.perf_counter()
    with app.producer_or_acquire() as producer:
        results = [noop.apply_async((i,), producer=producer) for i in range(n)]
    values = ResultSet(results).get(timeout=timeout, propagate=True)
    elapsed = time.perf_counter() - t0
    if len(values) != n or any(v is not None for v in values):
        raise RuntimeError(f"expected {n} None results, got {len(values)}")
    return elapsed


def tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--redis-url", default=os.environ.get(ENV_URL),
                    help="redis://127.0.0.1:PORT of a running, throwaway redis-server")
    ap.add_argument("--redis-pid", type=int, default=0,
                    help="pid of that redis-server, to count its memory too")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    # SIGTERM (e.g. from bench/noop_e2e.sh's cleanup) unwinds like Ctrl-C, so the
    # finally/with blocks below stop the processes this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not args.redis_url:
        ap.error("--redis-url (or $%s) is required" % ENV_URL)

    configure(args.redis_url)
    os.environ[ENV_URL] = args.redis_url
    logdir = tempfile.mkdtemp(prefix="celery-noop-")
    logfile = os.path.join(logdir, "worker.log")

    roots = [os.getpid()] + ([args.redis_pid] if args.redis_pid else [])
    worker = start_worker(args.redis_url, args.concurrency, logfile)
    try:
        with PeakSampler(roots) as mem:
            # Not timed: wait for the worker to consume, and warm its pool up.
            submit_and_wait(args.warmup, timeout=120.0)
            if worker.poll() is not None:
                raise RuntimeError("celery worker exited early")
            seconds = submit_and_wait(args.tasks, timeout=args.timeout)
    except Exception as e:  # report why, with the worker's log, and fail
        print(f"celery_noop: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.stderr.write(tail(logfile) + tail(logfile + ".out"))
        return 1
    finally:
        stop_worker(worker)
        shutil.rmtree(logdir, ignore_errors=True)

    rate = args.tasks / seconds
    print(
        f"RESULT peer=celery tasks={args.tasks} seconds={seconds:.3f} rate={rate:.1f} "
        f"peak_rss_mib={mem.peak_rss_mib:.1f} peak_pss_mib={mem.peak_pss_mib:.1f} "
        f"version={celery.__version__}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
