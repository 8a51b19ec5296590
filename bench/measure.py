"""What the benchmarks measure beside wall time: the CPU of this process or of a server's process
tree, and the machine's CPU pressure; a free port to serve on, and stopping a server they started."""

import contextlib
import os
import resource
import signal
import socket
import subprocess
from pathlib import Path


def pressure() -> int | None:
    """Microseconds some task of the machine has waited for a CPU since boot (None without PSI)."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return int(line.rsplit("total=", 1)[1])


def cpu() -> float:
    """Seconds of CPU this process has used (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pressure_line() -> str:
    """The first line of /proc/pressure/cpu ("some avg10=... avg60=... avg300=... total=..."), if any."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "unavailable"


def descendants(pid: int) -> list[int]:
    """pid and every process under it (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                text = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(text[text.rindex(")") + 2:].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def tree_cpu_seconds(pid: int | None) -> float:
    """User and system CPU of a process and its children so far (live ones, and waited-for ones)."""
    if pid is None:
        return 0.0
    total = 0
    for each in descendants(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = Path(f"/proc/{each}/stat").read_text()
            fields = text[text.rindex(")") + 2:].split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port of 127.0.0.1 free at the moment of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(process: subprocess.Popen, seconds: float) -> None:
    """Stop a process started in a session of its own and everything it started: SIGTERM to its group,
    then SIGKILL if it has not exited within `seconds`. Nothing if it has exited already."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
