"""Starting real server processes in tests: free ports and waiting until they answer."""

import os
import signal
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(base, process, log_path, seconds=60):
    """Poll base/healthz until it answers 200; raise with the server's log if it dies or never does."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(log_path.read_text()[-3000:]) from None
            time.sleep(0.3)


def stop(process, first=signal.SIGINT):
    """Stop a server started in its own session: politely, then by force after 20 seconds."""
    if process.poll() is None:
        os.killpg(process.pid, first)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
