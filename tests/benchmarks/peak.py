"""Run a command and print its peak resident memory on stderr: `python -m ...peak CMD...`.

Linux carries a process's peak-memory figure across fork and exec, so a command started
straight from the (large) benchmark process would report the benchmark's own peak. This
small intermediary starts the command as its own child and reports that child's figure.

A command may start children of its own that run beside it (detection tests synchronised
pairs in a child process), and wait4 gives the largest of the processes, not what they hold
together. So the whole tree's resident memory is also sampled while the command runs, and
the larger of the two figures is reported.
"""

import contextlib
import os
import subprocess
import sys
import threading

import psutil

SAMPLE_SECONDS = 0.01


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # ended since the listing
            total += process.memory_info().rss
    return total


def _sample(pid: int, peak: list[int], done: threading.Event) -> None:
    try:
        root = psutil.Process(pid)
        while not done.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], _tree_rss(root))
    except psutil.NoSuchProcess:
        pass


if __name__ == "__main__":
    process = subprocess.Popen([sys.executable, *sys.argv[1:]])
    peak, done = [0], threading.Event()
    sampler = threading.Thread(target=_sample, args=(process.pid, peak, done), daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    sys.stderr.write(f"\nPEAK_RSS_KB={max(usage.ru_maxrss, peak[0] // 1024)}\n")
    sys.exit(process.returncode)
