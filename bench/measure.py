"""What the benchmarks measure beside wall time: this process's CPU and the machine's CPU pressure."""

import resource
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
