#!/usr/bin/env python3
"""Developer bootstrap: the whole Quick start is one of these two commands.

    python3 dev.py serve [ARGS...]   # set up .venv, then run `onestop serve ARGS...`
    python3 dev.py test  [ARGS...]   # set up .venv, run ruff, then `pytest ARGS...` (in parallel)

Standard library only, so it runs on a bare Python 3.11 (Linux or macOS). The virtual
environment lives in ./.venv; it is created if missing and `pip install -e '.[test]'` is
(re)run whenever pyproject.toml differs from the one recorded in the stamp file inside
.venv, so an unchanged checkout starts at once. An existing .venv without a stamp is
adopted: installed into once, never deleted.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PYTHON = BIN / "python"
STAMP = VENV / ".onestop-install-stamp"
PIP_LOG = VENV / "pip-install.log"
PYPROJECT = ROOT / "pyproject.toml"
LINT_PATHS = ("platform", "admin", "tests", "bench")

USAGE = """usage: python3 dev.py COMMAND [ARGS...]

commands:
  serve [ARGS...]   set up .venv, then run `onestop serve ARGS...`
  test  [ARGS...]   set up .venv, run `ruff check`, then `pytest ARGS...` with one worker per CPU and one more
                    (pytest-xdist; ONESTOP_TEST_WORKERS=N to choose, 0 or `-n 0` for one process)
  setup             only set up .venv
  translations      re-extract the UI's messages, merge them into the Vietnamese catalogue, compile it
  vendor [--check]  refresh the vendored browser libraries (bpmn-js, form-js, axe-core) from the npm
                    registry at the versions pinned in platform/onestop/static/vendor/VENDOR.json;
                    --check only verifies the files on disk against the recorded hashes (no network)
"""
TRANSLATIONS = ROOT / "platform" / "onestop" / "translations"
VENDOR = ROOT / "platform" / "onestop" / "static" / "vendor"
NPM_REGISTRY = "https://registry.npmjs.org"


def say(message):
    print(f"dev.py: {message}", flush=True)


def fail(message, code=1):
    print(f"dev.py: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _wanted_stamp():
    """What the stamp must say for the venv to count as up to date."""
    digest = hashlib.sha256(PYPROJECT.read_bytes()).hexdigest()
    return f"pyproject-sha256={digest}\n"


def _venv_python_works():
    if not PYTHON.exists():
        return False
    try:
        result = subprocess.run(
            [str(PYTHON), "-c", "import sys; print(sys.version_info[:2] >= (3, 11))"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and result.stdout.strip() == "True"


@contextlib.contextmanager
def _setup_lock():
    """Serialise concurrent `dev.py` runs while they touch .venv (flock on the repo folder)."""
    try:
        import fcntl
    except ImportError:  # not Linux/macOS: no locking
        yield
        return
    fd = os.open(ROOT, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another dev.py to finish setting up .venv")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def ensure_venv():
    """Create .venv if needed and install the project into it if pyproject.toml changed."""
    if not PYPROJECT.exists():
        fail(f"{PYPROJECT} not found")
    with _setup_lock():
        if not _venv_python_works():
            if VENV.exists() and PYTHON.exists():
                fail(
                    f"{PYTHON} exists but does not run (or is older than Python 3.11); "
                    f"remove {VENV} and run again"
                )
            say(f"creating {VENV.name} with {sys.executable}")
            started = time.monotonic()
            result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
            if result.returncode != 0:
                fail(f"`{sys.executable} -m venv {VENV}` failed (exit {result.returncode})")
            say(f"created {VENV.name} in {time.monotonic() - started:.1f}s")

        wanted = _wanted_stamp()
        try:
            current = STAMP.read_text()
        except OSError:
            current = None
        if current == wanted:
            return

        reason = "no install stamp yet" if current is None else "pyproject.toml changed"
        say(f"installing the project into {VENV.name} ({reason}): pip install -e '.[test]'")
        started = time.monotonic()
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        result = subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "--quiet", "--editable", ".[test]"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        PIP_LOG.write_text(result.stdout)
        if result.returncode != 0:
            with contextlib.suppress(OSError):
                STAMP.unlink()
            sys.stderr.write(result.stdout)
            fail(f"pip install failed (exit {result.returncode}); its output is above and in {PIP_LOG}")
        # Quiet on success, but never hide an error (pip reports resolver conflicts and exits 0).
        errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
        if errors:
            sys.stderr.write("\n".join(errors) + "\n")
        tmp = STAMP.with_name(STAMP.name + ".tmp")
        tmp.write_text(wanted)
        os.replace(tmp, STAMP)
        say(f"installed in {time.monotonic() - started:.1f}s")


def _child_env():
    """The environment of an activated venv, for the commands we run and their children."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONHOME", None)
    return env


def cmd_serve(args):
    ensure_venv()
    exe = BIN / "onestop"
    if not exe.exists():
        fail(f"{exe} is missing; is [project.scripts] onestop set in pyproject.toml?")
    say("starting: onestop serve " + " ".join(args))
    os.chdir(ROOT)
    os.execve(str(exe), [str(exe), "serve", *args], _child_env())


def _parallel_args(args):
    """pytest-xdist's options for one worker per CPU and one more, up to 8 (ONESTOP_TEST_WORKERS=N to choose, 0 for none),
    unless the arguments choose for themselves. Whole files go to a worker (--dist loadfile), so a
    module's servers and browser start once; tests/support/parallel.py keeps timing tests alone."""
    if any(a in ("-n", "--numprocesses", "--dist", "no:xdist", "-pno:xdist")
           or a.startswith(("-n", "--numprocesses=", "--dist=")) for a in args):
        return []
    wanted = os.environ.get("ONESTOP_TEST_WORKERS", "").strip()
    try:
        # One more than the CPUs: a worker waits on the servers, Chromium and timers its tests start (the
        # cores stood ~15 % idle with one per CPU; on 2 cores the suite took 6 min 19 s with 2 workers and
        # 5 min 55 s with 3, 2026-12-05). At most 8: each starts its own servers and takes its share of
        # Redis's databases.
        workers = int(wanted) if wanted else min((os.cpu_count() or 1) + 1, 8)
    except ValueError:
        fail(f"ONESTOP_TEST_WORKERS must be a number, not {wanted!r}")
    if workers < 2:
        return []
    # Files in the order tests/support/parallel.py gives them (the longest first), not xdist's
    # (the most tests first, which puts a long browser file of one test last).
    return ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]


def _memory_basetemp(args):
    """pytest's temporary folders in memory (/dev/shm) when it has room, unless the arguments choose:
    the databases the tests make are real SQLite files all the same (WAL, synchronous=FULL), but a
    commit's fsync costs nothing there, and nothing of a test run needs to outlive the machine."""
    if any(a == "--basetemp" or a.startswith("--basetemp=") for a in args):
        return None
    shm = Path("/dev/shm")
    try:
        room = shutil.disk_usage(shm).free if shm.is_dir() and os.access(shm, os.W_OK) else 0
    except OSError:
        room = 0
    if room < 4 * 1024**3:  # a container's default 64 MB /dev/shm would fill up
        return None
    # Its own folder per run: pytest empties the --basetemp it is given, and two runs may overlap.
    return shm / f"onestop-tests-{os.getuid()}-{os.getpid()}"


def _minutes(seconds):
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def cmd_test(args):
    ensure_venv()
    env = _child_env()
    # Each server, worker and command a test starts is a new interpreter: with PYTHONDONTWRITEBYTECODE
    # set, every one compiles onestop's modules again (~0.3 s of CPU a process, hundreds of them a run).
    # Their bytecode is kept under .venv instead, which leaves the source tree as clean as that asked.
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and not env.get("PYTHONPYCACHEPREFIX"):
        env["PYTHONPYCACHEPREFIX"] = str(VENV / "pycache")

    paths = [p for p in LINT_PATHS if (ROOT / p).is_dir()]
    say(" ".join(["ruff check", *paths]))
    ruff = subprocess.run([str(BIN / "ruff"), "check", *paths], cwd=ROOT, env=env)
    if ruff.returncode != 0:
        say(f"ruff check failed (exit {ruff.returncode}); running the tests anyway")

    basetemp = _memory_basetemp(args)
    args = [*_parallel_args(args), *(["--basetemp", str(basetemp)] if basetemp else []), *args]
    say(" ".join(["pytest", *args]))
    started = time.monotonic()
    try:
        pytest = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env)
    finally:
        if basetemp:
            shutil.rmtree(basetemp, ignore_errors=True)
    say(f"pytest took {_minutes(time.monotonic() - started)}")
    code = pytest.returncode
    if code == 5:
        fail("pytest collected no tests (exit 5); an empty test run is treated as a failure", 5)
    if code != 0:
        fail(f"pytest failed (exit {code})" + ("; ruff check failed too" if ruff.returncode else ""), code)
    if ruff.returncode != 0:
        fail("tests passed but ruff check failed; run `.venv/bin/ruff check --fix` or fix by hand")
    return 0


def cmd_translations():
    """Messages in code and templates -> messages.pot -> vi/messages.po (merged) -> messages.mo.
    New messages arrive untranslated in the .po: translate them there, then run this again."""
    ensure_venv()
    env, babel = _child_env(), str(BIN / "pybabel")
    pot = TRANSLATIONS / "messages.pot"
    steps = [
        [babel, "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output",
         "-o", str(pot), "."],
        [babel, "update", "-i", str(pot), "-d", str(TRANSLATIONS), "--no-fuzzy-matching", "--ignore-obsolete",
         "--ignore-pot-creation-date", "-w", "110"],
        [babel, "compile", "-d", str(TRANSLATIONS), "--statistics"],
    ]
    for step in steps:
        if subprocess.run(step, cwd=ROOT, env=env).returncode != 0:
            fail(f"{' '.join(step[:2])} failed")
    return 0


def _registry_tarball(name, version):
    """The package's tarball bytes, checked against the integrity hash the registry publishes."""
    import base64
    import json
    import urllib.request

    with urllib.request.urlopen(f"{NPM_REGISTRY}/{name}/{version}", timeout=60) as answer:
        dist = json.load(answer)["dist"]
    algorithm, _, expected = dist["integrity"].partition("-")
    with urllib.request.urlopen(dist["tarball"], timeout=300) as answer:
        data = answer.read()
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        fail(f"{name}@{version}: the tarball does not match the registry's {algorithm} integrity hash")
    return data, dist["integrity"]


def cmd_vendor(args):
    """Fetch each pinned package from the npm registry and copy its listed files and licence into
    platform/onestop/static/vendor/<package>/, recording sha256 hashes in VENDOR.json; with --check,
    verify the files on disk against those hashes. Standard library only: no Node needed."""
    import io
    import json
    import shutil
    import tarfile

    if args[:1] == ["--check"] and len(args) <= 2:
        folder = Path(args[1]) if len(args) == 2 else VENDOR  # another folder: for the check's own test
        manifest = json.loads((folder / "VENDOR.json").read_text())
        bad = []
        for name, pin in manifest["packages"].items():
            for dest, digest in pin.get("sha256", {}).items():
                path = folder / name / dest
                if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    bad.append(f"{name}/{dest}")
        if bad:
            fail("vendored files differ from VENDOR.json: " + ", ".join(bad) + "; run `python3 dev.py vendor`")
        say("vendored files match VENDOR.json")
        return 0
    if args:
        fail("usage: python3 dev.py vendor [--check]", 2)
    manifest_path = VENDOR / "VENDOR.json"
    manifest = json.loads(manifest_path.read_text())
    for name, pin in manifest["packages"].items():
        data, integrity = _registry_tarball(name, pin["version"])
        target = VENDOR / name
        shutil.rmtree(target, ignore_errors=True)
        wanted = dict(pin["files"], LICENSE="LICENSE")
        hashes = {}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            members = {m.name.removeprefix("package/"): m for m in archive.getmembers() if m.isfile()}
            for source, dest in wanted.items():
                if source not in members:
                    fail(f"{name}@{pin['version']} has no {source}")
                content = archive.extractfile(members[source]).read()
                path = target / dest
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                hashes[dest] = hashlib.sha256(content).hexdigest()
        pin["integrity"], pin["sha256"] = integrity, dict(sorted(hashes.items()))
        say(f"{name}@{pin['version']}: {len(hashes)} files")
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return 0


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    if command == "serve":
        cmd_serve(args)
    elif command == "test":
        return cmd_test(args)
    elif command == "translations":
        return cmd_translations()
    elif command == "vendor":
        return cmd_vendor(args)
    elif command == "setup":
        ensure_venv()
        say(f"{VENV.name} is ready")
        return 0
    else:
        print(USAGE, end="", file=sys.stderr)
        fail(f"unknown command {command!r}", 2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
