"""Run a command and print its peak resident memory on stderr: `python -m ...peak CMD...`.

Linux carries a process's peak-memory figure across fork and exec, so a command started
straight from the (large) benchmark process would report the benchmark's own peak. This
small intermediary starts the command as its own child and reports that child's figure.
"""

import os
import subprocess
import sys

if __name__ == "__main__":
    process = subprocess.Popen([sys.executable, *sys.argv[1:]])
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    sys.stderr.write(f"\nPEAK_RSS_KB={usage.ru_maxrss}\n")
    sys.exit(process.returncode)
