#!/usr/bin/python3
"""Peer benchmark: N no-op tasks end to end through Dask distributed.

  /usr/bin/python3 bench/peers/dask_noop.py [--tasks N] [--workers 2]

A LocalCluster on loopback with 2 worker processes of 1 thread each (one per
core on the 2-core reference machine; the scheduler runs in this process, as
LocalCluster does by default). Measured: from client.map(noop, range(N),
pure=False) to the end of client.gather(futures). Cluster start-up and a short
warm-up are not timed.

Prints one line:
  RESULT peer=dask tasks=N seconds=S rate=R peak_rss_mib=M peak_pss_mib=P version=V
peak_*: peak over the run of the summed memory of this process (client and
scheduler) + nannies + workers, see procmem.py.
Runs under Debian 12's /usr/bin/python3 with python3-distributed.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time

import distributed
from distributed import Client, LocalCluster

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__/ in the source tree
sys.path.insert(0, HERE)
from procmem import PeakSampler  # noqa: E402


def noop(i):  # noqa: ARG001 - the task does nothing with its input
    return None


def run(client: Client, n: int) -> float:
    t0 = time.perf_counter()
    futures = client.map(noop, range(n), pure=False)
    values = client.gather(futures)
    elapsed = time.perf_counter() - t0
    if len(values) != n or any(v is not None for v in values):
        raise RuntimeError(f"expected {n} None results, got {len(values)}")
    del futures
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()
    # SIGTERM (e.g. from bench/noop_e2e.sh's cleanup) unwinds like Ctrl-C, so the
    # finally/with blocks below stop the processes this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    workdir = tempfile.mkdtemp(prefix="dask-noop-")
    try:
        with PeakSampler() as mem:
            with LocalCluster(
                n_workers=args.workers,
                threads_per_worker=args.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                local_directory=workdir,
                silence_logs=logging.ERROR,
            ) as cluster, Client(cluster) as client:
                client.wait_for_workers(args.workers, timeout=120)
                run(client, args.warmup)  # not timed
                seconds = run(client, args.tasks)
    except Exception as e:
        print(f"dask_noop: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rate = args.tasks / seconds
    print(
        f"RESULT peer=dask tasks={args.tasks} seconds={seconds:.3f} rate={rate:.1f} "
        f"peak_rss_mib={mem.peak_rss_mib:.1f} peak_pss_mib={mem.peak_pss_mib:.1f} "
        f"version={distributed.__version__}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
