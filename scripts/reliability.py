"""Run every reliability probe and print the README's Reliability table from the results.

Each probe is a set of tests (real SDKs against the fake LLM server, real SQLite files,
subprocesses where a process is killed or its memory measured). This runs them in one
pytest session and prints one Markdown row per probe: what was tried, whether it held,
and the figures the tests report (``[info]`` lines).

    python scripts/reliability.py            # prints the table (about 2 minutes)
    python scripts/reliability.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (probe, what was tried, test selectors)
PROBES = [
    ("stream `elapsed`", "`response.elapsed` after a stream is read (openai `stream=True`, "
     "`with_streaming_response`, anthropic `messages.stream()`, sync and async)",
     ["tests/test_transparency.py::test_elapsed_after_an_openai_stream",
      "tests/test_transparency.py::test_elapsed_after_with_streaming_response_read",
      "tests/test_transparency.py::test_elapsed_after_an_anthropic_stream_manager",
      "tests/test_transparency.py::test_elapsed_after_async_streams"]),
    ("SDK warnings", "anthropic's DeprecationWarning for a deprecated model: filename and line as without "
     "llmdebug; shown in `__main__` under default filters, once per line",
     ["tests/test_transparency.py::test_sdk_warning_points_at_the_callers_line",
      "tests/test_transparency.py::test_async_and_stream_helper_warnings_point_at_the_callers_line",
      "tests/test_transparency.py::test_deprecation_warning_shows_in_main_under_default_filters"]),
    ("`-W error`", "a fault inside capture and a locked file under `python -W error` and "
     "`simplefilter('error')`",
     ["tests/test_transparency.py::test_capture_fault_under_warnings_as_errors_does_not_reach_the_call",
      "tests/test_transparency.py::test_locked_store_under_warnings_as_errors_keeps_the_writer",
      "tests/test_transparency.py::test_warnings_as_errors_subprocess"]),
    ("secrets", "URL userinfo, `?key=`/`sig=`/`token=`, `extra_body={'api_key': …}`, litellm `api_key`, "
     "`api_base` with userinfo, `headers={'X-Custom-Auth': …}`, `extra_headers={'Ocp-Apim-Subscription-Key': …}`, "
     "a traced function's `api_key` argument, span attributes; the .db, -wal and widget state grepped",
     ["tests/test_secrets.py"]),
    ("file permissions", "new database, -wal and -shm, also under `umask 0`",
     ["tests/test_secrets.py::test_the_database_and_its_wal_are_private",
      "tests/test_secrets.py::test_private_even_with_a_permissive_umask"]),
    ("writer killed", "`SystemExit` inside a batch; the writer thread stopped",
     ["tests/test_nothing_lost.py::test_writer_survives_a_base_exception_in_a_batch",
      "tests/test_nothing_lost.py::test_a_stopped_writer_is_restarted_with_a_warning",
      "tests/test_alert_callbacks.py"]),
    ("file deleted or replaced", "the .db deleted while in use; replaced by another application's database",
     ["tests/test_nothing_lost.py::test_deleted_file_is_recreated_and_the_next_spans_go_there",
      "tests/test_nothing_lost.py::test_deleted_file_is_noticed_at_flush",
      "tests/test_nothing_lost.py::test_file_replaced_by_another_applications_db_is_refused_and_spans_wait"]),
    ("memory", "1,500 calls of 100 KB prompts with the store locked (`LLMDEBUG_MAX_BUFFER_MB=32`); "
     "spans past a 1–2 MB cap",
     ["tests/test_nothing_lost.py::test_memory_returns_to_baseline_after_draining",
      "tests/test_nothing_lost.py::test_payloads_are_shed_first_past_the_cap",
      "tests/test_nothing_lost.py::test_oldest_spans_dropped_when_rows_alone_pass_the_cap"]),
    ("stalled writer", "the writer thread stuck inside a batch while 80 calls of 40 KB are made",
     ["tests/test_nothing_lost.py::test_stalled_writer_never_blocks_calls_and_catches_up"]),
    ("foreign files", "another application's SQLite file (rollback and WAL, one with its own `spans` table), "
     "a file from a newer llmdebug, a text file",
     ["tests/test_nothing_lost.py::test_another_applications_file_is_refused_and_unchanged",
      "tests/test_nothing_lost.py::test_a_file_from_a_newer_llmdebug_is_refused",
      "tests/test_nothing_lost.py::test_a_file_that_is_not_sqlite_is_refused_and_unchanged",
      "tests/test_nothing_lost.py::test_init_refusal_keeps_the_current_store"]),
    ("disk full", "a 2 MB tmpfs filled up, then space freed; SQLite's `max_page_count` reached",
     ["tests/test_nothing_lost.py::test_real_disk_full_then_space_freed",
      "tests/test_nothing_lost.py::test_disk_full_gives_its_own_warning_and_nothing_is_lost"]),
    ("locked file", "a write lock held by another connection, at `init()` and while writing",
     ["tests/test_robustness.py::test_locked_db_call_succeeds_then_rows_arrive",
      "tests/test_nothing_lost.py::test_flush_is_false_while_spans_wait_and_true_once_written"]),
    ("unwritable path", "missing directory, a file as parent, immutable directory, immutable file",
     ["tests/test_robustness.py::test_unwritable_path_call_succeeds_one_warning_nothing_lost",
      "tests/test_nothing_lost.py::test_missing_directory_warning"]),
    ("4 processes × 200 calls", "four processes open one new file at the same moment and write 200 "
     "captures each (real openai calls, and user spans)",
     ["tests/test_robustness.py::test_four_processes_one_file_lose_nothing"]),
    ("kill -9", "the writing process killed three times during heavy writing",
     ["tests/test_robustness.py::test_kill_9_during_heavy_writing_leaves_a_sound_db"]),
    ("bad input", "`ld.search('gpt-4o')`, `e-mail`, `C++`, `\"unbalanced`, `*`; `since='garbage'`, NaN, `1e300`, "
     "`limit='abc'`/`-1`/`0`, `tag=[…]`, `metrics(by=123)`; alert thresholds out of range, `window='1w'`; "
     "`ld.feedback` on an unknown span; `ld.replay` of a cut prompt",
     ["tests/test_bad_input.py", "tests/test_replay_stored_gaps.py"]),
    ("bidi and invisible characters", "U+202E, U+2066–2069, U+200B in names and models: tree, detail, "
     "charts, dashboard filter, text fallbacks",
     ["tests/test_widget_visible.py"]),
    ("odd content", "2 MB prompts, inline images, NUL bytes, lone surrogates, hostile objects",
     ["tests/test_robustness.py::test_two_megabyte_prompt_is_truncated_visibly_and_db_stays_small",
      "tests/test_robustness.py::test_inline_image_is_summarised",
      "tests/test_robustness.py::test_odd_prompts_through_the_sdk",
      "tests/test_robustness.py::test_hostile_objects_do_not_lose_the_span"]),
]


def run(python: str) -> dict:
    selectors = [sel for _, _, sels in PROBES for sel in sels]
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        t0 = time.monotonic()
        proc = subprocess.run([python, "-m", "pytest", "-p", "no:randomly", "-s", "-q", f"--junitxml={xml}",
                               *dict.fromkeys(selectors)], cwd=REPO, capture_output=True, text=True)
        elapsed = time.monotonic() - t0
        cases = []
        for case in ET.parse(xml).getroot().iter("testcase"):
            failed = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            path = case.get("classname", "").replace(".", "/") + ".py"
            cases.append({"file": path, "name": case.get("name"), "outcome":
                          "failed" if failed else "skipped" if skipped else "passed"})
    infos = [line.split("[info]", 1)[1].strip() for line in proc.stdout.splitlines() if "[info]" in line]
    rows = []
    for probe, tried, sels in PROBES:
        mine = [c for c in cases if any(_matches(sel, c) for sel in sels)]
        outcome = ("held" if mine and all(c["outcome"] == "passed" for c in mine)
                   else "not run" if not mine else
                   "skipped here" if all(c["outcome"] in ("passed", "skipped") for c in mine) else "FAILED")
        rows.append({"probe": probe, "tried": tried, "result": outcome,
                     "tests": len(mine), "failed": [c["name"] for c in mine if c["outcome"] == "failed"]})
    return {"rows": rows, "infos": infos, "seconds": round(elapsed, 1), "returncode": proc.returncode,
            "tail": proc.stdout[-2000:]}


def _matches(selector: str, case: dict) -> bool:
    path, _, name = selector.partition("::")
    if not case["file"].endswith(path.removeprefix("tests/")) and case["file"] != path:
        return False
    return not name or case["name"] == name or case["name"].startswith(name + "[")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    result = run(sys.executable)
    print("| probe | what was tried | result | tests |")
    print("|---|---|---|---:|")
    for r in result["rows"]:
        print(f"| {r['probe']} | {r['tried']} | {r['result']} | {r['tests']} |")
    print()
    for info in result["infos"]:
        print(f"- {info}")
    print(f"\n{sum(r['tests'] for r in result['rows'])} tests in {result['seconds']} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(r["result"] in ("held", "skipped here") for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
