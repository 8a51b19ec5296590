"""Downloads as CSV and XLSX (web/exports.py); the downloads themselves are checked where each page offers one."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_web_worker_loads_the_spreadsheet_writer_only_when_a_spreadsheet_is_asked_for(tmp_path):
    code = ("import sys\nfrom onestop.app import create_app\ncreate_app()\n"
            "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'xlsxwriter'))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT / "admin")]), ONESTOP_HOME=str(tmp_path),
               ONESTOP_DATABASE_URL=f"sqlite:///{tmp_path}/onestop.db", ONESTOP_TIMER_THREAD="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
