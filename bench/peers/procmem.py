"""Peak memory of a process tree, sampled from /proc (Linux, standard library only).

The peers are several processes (a client, worker processes, a scheduler, a
broker), so GNU time's "Maximum resident set size" (the largest single
process) would understate them. This samples, every `interval` seconds, the
sum over the tree rooted at the given pids of
  - RSS (VmRSS): what `time -v` reports per process; summed it over-counts
    pages that forked children share with their parent, and
  - PSS (Pss in smaps_rollup): shared pages divided among their sharers, so
    the sum is the tree's real footprint,
and keeps the peak of each sum.
"""

from __future__ import annotations

import os
import threading


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: the fields after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def tree_pids(roots: list[int]) -> list[int]:
    children = _children_map()
    seen: set[int] = set()
    stack = [p for p in roots if p > 0]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack.extend(children.get(pid, ()))
    return sorted(seen)


def _read_kib(path: str, key: bytes) -> int:
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory_kib(roots: list[int]) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) over the tree, in KiB."""
    rss = pss = 0
    for pid in tree_pids(roots):
        rss += _read_kib(f"/proc/{pid}/status", b"VmRSS:")
        pss += _read_kib(f"/proc/{pid}/smaps_rollup", b"Pss:")
    return rss, pss


class PeakSampler:
    """Samples tree_memory_kib(roots) in a daemon thread; use as a context manager."""

    def __init__(self, roots: list[int] | None = None, interval: float = 0.2):
        self.roots = list(roots) if roots else [os.getpid()]
        self.interval = interval
        self.peak_rss_kib = 0
        self.peak_pss_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-sampler", daemon=True)

    def add_root(self, pid: int) -> None:
        self.roots.append(pid)

    def sample(self) -> None:
        rss, pss = tree_memory_kib(self.roots)
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.peak_pss_kib = max(self.peak_pss_kib, pss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> "PeakSampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024.0

    @property
    def peak_pss_mib(self) -> float:
        return self.peak_pss_kib / 1024.0
