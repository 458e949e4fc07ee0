"""llmdebug -> OTLP -> a real Arize Phoenix server, checked through Phoenix's own client.

Phoenix is not in [dev]: it is ~850 MB installed, takes ~1.5 min to install from scratch,
and pins older anthropic/google-genai than llmdebug's tests use. So it goes in a venv of
its own (made once, reused), and the ``phoenix``-marked test runs with
``LLMDEBUG_PHOENIX_PYTHON`` pointing there::

    .venv/bin/python scripts/phoenix_roundtrip.py [--venv DIR] [--reinstall]

Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llmdebug" / "phoenix-venv"


def _python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _has_phoenix(python: Path) -> bool:
    if not python.exists():
        return False
    # find_spec, not import: importing Phoenix's server takes ~30 s
    probe = "import importlib.util as u; assert u.find_spec('phoenix.server.main') and u.find_spec('phoenix.client')"
    return subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"Phoenix's venv (default {DEFAULT_VENV})")
    ap.add_argument("--reinstall", action="store_true", help="upgrade arize-phoenix in it first")
    ap.add_argument("pytest_args", nargs="*", help="more pytest arguments")
    args, extra = ap.parse_known_args()
    python = _python(args.venv)
    if args.reinstall or not _has_phoenix(python):
        if not python.exists():
            venv.create(args.venv, with_pip=True)
        t0 = time.monotonic()
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "arize-phoenix"], check=True)
        print(f"arize-phoenix installed in {args.venv} in {time.monotonic() - t0:.0f} s", flush=True)
    env = dict(os.environ, LLMDEBUG_PHOENIX_PYTHON=str(python))
    cmd = [sys.executable, "-m", "pytest", "tests/test_otel_export.py", "-m", "phoenix", "-rs", *args.pytest_args, *extra]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
