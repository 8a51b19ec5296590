"""What the benchmarks measure beside wall time: the CPU of this process or of a server's process
tree, and the machine's CPU pressure; a free port to serve on, stopping a server they started, and
running `onestop` commands to prepare its database."""

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
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


# `onestop` commands one after the other through the command's own entry point (onestop.cli.main, which the `onestop`
# console script calls) in one interpreter: what as many runs of `onestop` do, without starting and importing onestop
# again for each (~0.4 s of CPU a command).
_COMMANDS = """import sys
from onestop.cli import main
for argv in {commands!r}:
    code = main(argv)
    if code:
        print("onestop " + " ".join(argv) + f" failed ({{code}})", file=sys.stderr)
        sys.exit(code)
"""


def onestop_commands(env: dict, *commands: list[str], timeout: float = 120) -> str:
    """Run `onestop` commands (each an argument list, e.g. ["init"]) in order, with env, in one interpreter; return
    what they printed. A command that fails stops the rest and raises RuntimeError with its output."""
    done = subprocess.run([sys.executable, "-c", _COMMANDS.format(commands=[list(c) for c in commands])], env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        shown = "; ".join("onestop " + " ".join(c) for c in commands)
        raise RuntimeError(f"{shown} failed ({done.returncode}):\n{done.stderr or done.stdout}")
    return done.stdout
