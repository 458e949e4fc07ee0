"""The openai and anthropic SDKs' own test suites (the --subset slice) pass and fail exactly
alike without and with llmdebug: scripts/sdk_conformance.py run as a user would run it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # minutes: two SDK test suites, each run twice (the fast loop leaves it out)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "sdk_conformance.py"
EXIT_OFFLINE = 3  # the script could not reach the package index to set itself up

# Streams whose body ends the SDK's span: llmdebug's stream recorder sits under them.
ELAPSED_TESTS = [
    "tests/test_open_telemetry.py::TestCallSpans::test_elapsed_of_a_response_whose_body_ends_the_span",
    "tests/test_open_telemetry.py::TestCallSpans::test_async_elapsed_of_a_response_whose_body_ends_the_span",
]


def test_sdk_suites_behave_the_same_with_llmdebug(tmp_path):
    out = tmp_path / "conformance.json"
    # A cold first run downloads the sdists and builds a venv (a few minutes), then runs
    # both suites' slices twice; the timeout only guards against a hang.
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--subset", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    if proc.returncode == EXIT_OFFLINE:
        pytest.skip(f"the package index is unreachable: {proc.stderr.strip().splitlines()[-1:]}")
    assert out.exists(), f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    result = json.loads(out.read_text())
    assert set(result["sdks"]) == {"openai", "anthropic"}, proc.stderr[-3000:]
    assert result["broken"] == 0, proc.stdout
    assert result["differences"] == 0, proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    for sdk, r in result["sdks"].items():
        ran = sum(r["counts"]["with"].values())
        assert ran > 100, f"{sdk}: only {ran} tests ran\n{proc.stdout}"
        assert r["spans"] > 0, f"{sdk}: llmdebug stored no span, so capture was not on\n{proc.stdout}"
    tests = result["sdks"]["anthropic"]["tests"]
    for test in ELAPSED_TESTS:
        assert tests.get(test) == ["passed", "passed"], f"{test}: {tests.get(test)}"
