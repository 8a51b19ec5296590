"""tests/bench/warm.py: a script forked from the warm process fails, prints and exits as `python SCRIPT` would, so
that a broken benchmark still fails its tiny run in tests/bench/test_benchmarks.py."""

import os
import subprocess

import pytest

from tests.bench.warm import WarmScripts


@pytest.fixture(scope="module")
def warm():
    scripts = WarmScripts(dict(os.environ), preload=("json",))  # the stdlib only: the runs, not the imports, are tested
    yield scripts
    scripts.close()


def run(warm, tmp_path, text, *args, env=None, timeout=60):
    script = tmp_path / "script.py"
    script.write_text(text, encoding="utf-8")
    return warm.run(script, *args, env=dict(os.environ, **(env or {})), cwd=tmp_path, timeout=timeout)


def test_a_script_runs_as_main_with_its_arguments_environment_folder_and_its_own_folder_first_on_the_path(warm, tmp_path):
    (tmp_path / "helper.py").write_text("NAME = 'the helper beside the script'\n", encoding="utf-8")
    (tmp_path / "work").mkdir()
    done = run(warm, tmp_path, "import os, sys, tempfile\nimport helper\n"
               "if __name__ == '__main__':\n"
               "    print(sys.argv[1:], os.environ['WARM_SETTING'], os.getcwd(), helper.NAME, tempfile.gettempdir())\n"
               "    print('to stderr', file=sys.stderr)\n",
               "--size", "3", env={"WARM_SETTING": "given", "TMPDIR": str(tmp_path / "work")})
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"['--size', '3'] given {tmp_path} the helper beside the script {tmp_path / 'work'}\n")
    assert done.stderr == "to stderr\n"


def test_an_uncaught_exception_fails_the_run_with_its_traceback(warm, tmp_path):
    done = run(warm, tmp_path, "print('before')\nraise RuntimeError('the benchmark broke')\n")
    assert done.returncode == 1
    assert done.stdout == "before\n"
    assert "Traceback" in done.stderr and "RuntimeError: the benchmark broke" in done.stderr


@pytest.mark.parametrize(("exit_with", "code", "stderr"), [("3", 3, ""), ("None", 0, ""), ("'no database'", 1, "no database\n")])
def test_sys_exit_gives_the_status_python_would(warm, tmp_path, exit_with, code, stderr):
    done = run(warm, tmp_path, f"import sys\nsys.exit({exit_with})\n")
    assert (done.returncode, done.stderr) == (code, stderr)


def test_threads_and_exit_handlers_finish_and_buffered_output_is_written_before_the_run_ends(warm, tmp_path):
    done = run(warm, tmp_path, "import atexit, sys, threading, time\n"
               "atexit.register(lambda: print('exit handler'))\n"
               "def late():\n    time.sleep(0.05)\n    sys.stdout.write('thread done\\n')\n"
               "threading.Thread(target=late).start()\n"
               "sys.stdout.write('main done\\n')\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "main done\nthread done\nexit handler\n"


def test_runs_are_independent_of_each_other(warm, tmp_path):
    first = run(warm, tmp_path, "import sys\nsys.modules['json'].SET_BY_A_RUN = 1\n")
    second = run(warm, tmp_path, "import json\nprint(hasattr(json, 'SET_BY_A_RUN'))\n")
    assert (first.returncode, second.stdout) == (0, "False\n")


def test_a_run_past_its_timeout_is_killed_and_the_next_run_goes_on(warm, tmp_path):
    with pytest.raises(subprocess.TimeoutExpired):
        run(warm, tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(60)\n", timeout=0.5)
    assert run(warm, tmp_path, "print('next')\n").stdout == "next\n"
