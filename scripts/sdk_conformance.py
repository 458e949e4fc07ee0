#!/usr/bin/env python3
"""Run the openai and anthropic SDKs' own test suites twice, without and with llmdebug,
and compare every test's outcome.

llmdebug promises that a program behaves exactly as without it. The SDKs' suites (clients,
retries, streaming, raw responses, OpenTelemetry, ...) are a large check of that promise
written by someone else.

    python scripts/sdk_conformance.py                  # both SDKs, whole suites
    python scripts/sdk_conformance.py --subset         # the CI slice, a few minutes
    python scripts/sdk_conformance.py --sdk anthropic --json result.json
    python scripts/sdk_conformance.py --sdk openai -- tests/test_streaming.py   # pick tests

The SDK versions are the ones installed in the interpreter running this script. Their
source distributions (which hold ``tests/``) and a virtualenv with the same SDK versions,
the libraries of this interpreter, the suites' test dependencies and llmdebug (editable)
are cached in ``.conformance/`` and reused while nothing changes. Tests that need the SDK's
Prism mock server (``tests/api_resources`` without respx) are left out.

A test differs when its outcome differs, or when a warning it saw points to another file
and line (what a user sees; the suites' own checks ignore it). A difference is run again
before it counts: one that does not come back is reported as flaky.

Exit status: 0 same outcomes; 1 some test differs, a run broke, or llmdebug stored no span
(capture was not on); 3 the package index could not be reached to set things up.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent
PLUGIN = "_conformance_plugin"  # scripts/_conformance_plugin.py
EXIT_DIFFERENT, EXIT_OFFLINE = 1, 3
# Bump when the way the venv is built changes, so cached venvs are rebuilt.
SETUP_REVISION = 1
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
MAX_RERUN = 100  # differing tests run again to tell flaky ones from real differences
MAX_PRINTED = 50


@dataclass(frozen=True)
class Suite:
    extras: tuple[str, ...]  # SDK extras whose tests we want to run (aiohttp client, bedrock, ...)
    server_dirs: tuple[str, ...]  # tests here need the Prism mock server unless they use respx
    ignore: tuple[str, ...]  # paths that need something else we do not have
    subset: tuple[str, ...]  # pytest arguments selecting the --subset slice
    env: tuple[tuple[str, str], ...] = ()  # switches of the suite's optional lanes
    requirements: tuple[str, ...] = ()  # test dependencies the dev group does not name


SUITES = {
    "openai": Suite(
        extras=("aiohttp", "realtime", "datalib", "bedrock", "vertex"),
        server_dirs=("tests/api_resources", "tests/lib/test_fine_tuning_positional_arguments.py"),
        # The sdist has no .github/workflows for these to read.
        ignore=("tests/test_uv_workflows.py",),
        subset=(
            "tests/test_streaming.py",
            "tests/test_stream_mode.py",
            "tests/test_sse_framing.py",
            "tests/test_response.py",
            "tests/test_legacy_response.py",
            "tests/test_client.py",
            "tests/test_retry_after_overflow.py",
            "tests/test_debug_logging.py",
            "tests/lib/chat",
            # its recorded responses live outside the sdist (.inline-snapshot/): fails either way
            "--ignore=tests/lib/chat/test_completions_streaming.py",
            "tests/lib/responses/test_responses.py",
            "tests/lib/responses/test_parse_as.py",
            "tests/lib/responses/test_error_diagnostics.py",
            "tests/lib/test_responses_tool_runner.py",
        ),
        # Also run the tests of openai over a classic httpx client, which llmdebug patches too.
        env=(("OPENAI_TEST_LEGACY_HTTPX", "1"),),
        requirements=("httpx-aiohttp",),
    ),
    "anthropic": Suite(
        extras=("aiohttp", "vertex", "bedrock", "aws", "mcp", "webhooks"),
        server_dirs=("tests/api_resources",),
        # The sdist has no scripts/detect-breaking-changes.py for it to run.
        ignore=("tests/test_detect_breaking_changes.py",),
        subset=(
            "tests/test_open_telemetry.py::TestCallSpans",
            "tests/test_open_telemetry.py::TestTracingFailures",
            "tests/test_streaming.py",
            "tests/test_response.py",
            "tests/test_client.py",
            "tests/lib/streaming",
            "tests/lib/tools/test_runners.py",
        ),
    ),
}

# Development tools in the SDKs' dev dependency group that no test imports (type
# checkers, linters, stubs): installing them costs minutes and proves nothing.
_NOT_FOR_TESTS = re.compile(r"^(pyright|ty|mypy|ruff|nodeenv|pre-commit|nox|types-.*|.*-stubs)$", re.I)
# pip's words for "the index could not be reached".
_OFFLINE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable|No route to host|Connection refused|"
    r"ConnectTimeout|ReadTimeout|ProxyError|Max retries exceeded|SSLError|"
    r"Could not fetch URL|connection broken",
    re.I,
)


class IndexUnreachable(Exception):
    """The package index did not answer; nothing could be set up."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@(]", requirement.strip(), maxsplit=1)[0]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------- environment and venv


def installed_sdks(wanted: list[str]) -> dict[str, str]:
    """{sdk: version} of the SDKs installed in this interpreter."""
    found = {}
    for sdk in wanted:
        with contextlib.suppress(md.PackageNotFoundError):
            found[sdk] = md.version(sdk)
    return found


def run_pip(python: Path, args: list[str], what: str) -> str:
    """``python -m pip ARGS``; raises IndexUnreachable when it failed for want of the index."""
    proc = _pip(python, args)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        # A network error in the output may be a side index's; only a failed look-up of
        # the SDK itself says the index is really out of reach.
        if _OFFLINE.search(output):
            probe = _pip(python, ["index", "versions", "openai"])
            if probe.returncode != 0 and _OFFLINE.search(probe.stdout + probe.stderr):
                raise IndexUnreachable(f"{what}: the package index is unreachable\n{_tail(output)}")
        raise RuntimeError(f"{what} failed (pip exit {proc.returncode})\n{_tail(output)}")
    return output


def _pip(python: Path, args: list[str]) -> subprocess.CompletedProcess:
    cmd = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=_pip_env())


def _pip_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PIP_REQUIRE_VIRTUALENV", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    # A dead index should fail in seconds, not after pip's default minutes of retries.
    env.setdefault("PIP_RETRIES", "2")
    return env


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_bootstrap(venv: Path) -> None:
    """A venv with the SDKs' build backend, so pip reads an sdist's metadata without
    building an isolated environment each time (seconds instead of a minute)."""
    py = venv_python(venv)
    if not py.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = subprocess.run([str(py), "-c", "import hatchling, hatch_fancy_pypi_readme"], capture_output=True)
    if check.returncode != 0:
        run_pip(py, ["install", "-q", "hatchling", "hatch-fancy-pypi-readme"], "installing the build backend")


def fetch_sources(cache: Path, venv: Path, sdks: dict[str, str], download: bool = True) -> dict[str, Path] | None:
    """Download and unpack each SDK's sdist; returns {sdk: unpacked source dir}, or None
    when one is missing and ``download`` is false."""
    sources = {}
    for sdk, version in sdks.items():
        src = cache / "src" / f"{sdk}-{version}"
        if (src / ".unpacked").exists():
            sources[sdk] = src
            continue
        if not download:
            return None
        dist = cache / "sdist"
        dist.mkdir(parents=True, exist_ok=True)
        archive = next(dist.glob(f"{sdk}-{version}.tar.gz"), None)
        if archive is None:
            ensure_bootstrap(venv)
            log(f"downloading the {sdk} {version} source distribution")
            args = ["download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(dist), f"{sdk}=={version}"]
            try:
                run_pip(venv_python(venv), [*args[:1], "--no-build-isolation", *args[1:]], f"downloading {sdk}")
            except RuntimeError:  # another build backend: let pip build its own environment
                run_pip(venv_python(venv), args, f"downloading {sdk}")
            archive = next(dist.glob(f"{sdk}-{version}.tar.gz"))
        shutil.rmtree(src, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(src.parent, filter="data")
        if not (src / "tests").is_dir():
            raise RuntimeError(f"{archive.name} holds no tests/ directory")
        (src / ".unpacked").touch()
        sources[sdk] = src
    return sources


def test_requirements(src: Path) -> list[str]:
    """The SDK's dev dependencies (PEP 735 group, older SDKs' rye list, or the names in
    requirements-dev.lock), minus tools no test imports."""
    project = tomllib.loads((src / "pyproject.toml").read_text())
    reqs = project.get("dependency-groups", {}).get("dev") or project.get("tool", {}).get("rye", {}).get(
        "dev-dependencies", []
    )
    reqs = [r for r in reqs if isinstance(r, str)]  # not {include-group = ...}
    lock = src / "requirements-dev.lock"
    if not reqs and lock.exists():
        # Names only: the lock's pins of the SDK's own dependencies would fight this
        # interpreter's versions, which are the ones under test.
        reqs = [
            _name(line)
            for line in lock.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "-"))
        ]
    return [r for r in reqs if not _NOT_FOR_TESTS.match(_name(r))]


def _runtime_closure(names: list[str]) -> set[str]:
    """Normalised names of these distributions and everything they require, as installed here."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def constraints(roots: list[str]) -> list[str]:
    """Pins to this interpreter's versions of ``roots`` and everything they need at run time:
    the SDKs and llmdebug then run on exactly the user's libraries (httpx2, pydantic,
    wrapt, ...), while the test tools resolve freely."""
    keep = _runtime_closure(roots)
    pins = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if not name or _norm(name) not in keep or _norm(name) in ("llmdebug", "pip", "setuptools", "wheel"):
            continue
        direct = dist.read_text("direct_url.json")
        if direct and '"url": "file:' in direct.replace("'", '"'):
            continue  # a local or editable install: not on the index
        if "+" in dist.version:
            continue  # a local version (torch 2.x+cpu) may not be on the index
        pins[_norm(name)] = f"{name}=={dist.version}"
    return sorted(pins.values())


def _llmdebug_dependencies() -> list[str]:
    """What llmdebug's editable install pulls in: a change here needs a new venv."""
    return tomllib.loads((REPO / "pyproject.toml").read_text()).get("project", {}).get("dependencies", [])


def _llmdebug_revision() -> str:
    """The commit of the llmdebug under test, "+dirty" with uncommitted changes."""
    git = ["git", "-C", str(REPO)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "llmdebug"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty.strip() else "")


def venv_plan(cache: Path, sdks: dict[str, str], sources: dict[str, Path]) -> dict:
    """What the test venv must hold, and the key under which a built one is reused."""
    sdk_reqs = [f"{sdk}[{','.join(SUITES[sdk].extras)}]=={v}" for sdk, v in sorted(sdks.items())]
    test_reqs = sorted(
        {r for sdk, src in sources.items() for r in (*test_requirements(src), *SUITES[sdk].requirements)}
    )
    pins = constraints([*sdks, "llmdebug"])
    key = json.dumps([SETUP_REVISION, sys.version, sdk_reqs, test_reqs, pins, _llmdebug_dependencies()])
    return {
        "venv": cache / "venv",
        "sdks": sdks,
        "requirements": [*sdk_reqs, *test_reqs],
        "pins": pins,
        "key": hashlib.sha256(key.encode()).hexdigest()[:16],
    }


def venv_ready(plan: dict) -> bool:
    stamp = plan["venv"] / "conformance-stamp.json"
    return stamp.exists() and json.loads(stamp.read_text()).get("key") == plan["key"]


def build_venv(cache: Path, plan: dict) -> Path:
    """(Re)build the test venv: the SDKs at this interpreter's versions with the extras
    their tests use, the suites' test dependencies, and llmdebug from this checkout."""
    venv, sdks = plan["venv"], plan["sdks"]
    log(f"building the test venv {venv} (once per SDK/library version change)")
    t0 = time.time()
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv_python(venv)
    reqs = [*plan["requirements"], "hatchling", "hatch-fancy-pypi-readme", "-e", str(REPO)]
    constraint_file = cache / "constraints.txt"
    constraint_file.write_text("\n".join(plan["pins"]) + "\n")
    try:
        run_pip(py, ["install", "-q", "-c", str(constraint_file), *reqs], "installing the test venv")
    except RuntimeError as e:
        log(f"pinning llmdebug's libraries too did not resolve; pinning the SDKs' only\n{e}")
        constraint_file.write_text("\n".join(constraints(list(sdks))) + "\n")
        run_pip(py, ["install", "-q", "-c", str(constraint_file), *reqs], "installing the test venv")
    for sdk, version in sdks.items():
        got = subprocess.run(
            [str(py), "-c", f"import importlib.metadata as m; print(m.version({sdk!r}))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        if got != version:
            raise RuntimeError(f"the test venv has {sdk} {got}, not {version}")
    stamp = venv / "conformance-stamp.json"
    stamp.write_text(json.dumps({"key": plan["key"], "sdks": sdks, "seconds": round(time.time() - t0)}))
    log(f"test venv ready in {time.time() - t0:.0f}s")
    return venv


# ---------------------------------------------------------------- running and comparing


def _test_env() -> dict[str, str]:
    """This environment minus what would change the suites' behaviour or llmdebug's:
    the user's configuration is what we compare, so no LLMDEBUG_RAISE_ERRORS either."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LLMDEBUG_", "OPENAI_", "ANTHROPIC_", "PYTEST_", "CONFORMANCE_"))
        and k not in ("PYTHONPATH", "VIRTUAL_ENV", "TEST_API_BASE_URL", "COV_CORE_SOURCE")
    }
    env["PYTHONPATH"] = str(SCRIPTS)
    return env


def run_pass(
    venv: Path, sdk: str, src: Path, selection: list[str], on: bool, run_dir: Path, workers: int, tag: str = ""
) -> dict:
    """One pytest run of the SDK's suite; returns the plugin's record plus timing."""
    mode = ("on" if on else "off") + tag
    out = run_dir / f"{sdk}-{mode}.json"
    env = _test_env()
    env["CONFORMANCE_OUT"] = str(out)
    env["CONFORMANCE_SERVER_DIRS"] = os.pathsep.join(SUITES[sdk].server_dirs)
    env.update(SUITES[sdk].env)
    if on:
        env["CONFORMANCE_LLMDEBUG_DIR"] = str(run_dir / f"{sdk}-db")
    cmd = [
        str(venv_python(venv)), "-m", "pytest",
        "-p", PLUGIN,
        "-p", "no:cacheprovider",
        "-n", str(workers),
        "--basetemp", str(run_dir / f"{sdk}-{mode}-tmp"),
        "-q", "--color=no", "-rN",
        *[f"--ignore={p}" for p in SUITES[sdk].ignore],
        *selection,
    ]  # fmt: skip
    log_file = run_dir / f"{sdk}-{mode}.log"
    what = f"{sdk}{tag and ' ' + tag}: {'with' if on else 'without'} llmdebug"
    log(f"{what} ... (log: {log_file})")
    t0 = time.time()
    with log_file.open("w") as fh:
        proc = subprocess.run(cmd, cwd=src, env=env, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.time() - t0
    record = json.loads(out.read_text()) if out.exists() else {"outcomes": {}, "exitstatus": None}
    record.update(returncode=proc.returncode, wall_seconds=round(seconds, 1), log=str(log_file))
    # llmdebug swallows its own failures and says so once per kind as an LLMDebugWarning.
    record["llmdebug_warnings"] = sorted(
        {line.strip()[:300] for line in log_file.read_text(errors="replace").splitlines() if "LLMDebugWarning" in line}
    )
    # 0: all passed, 1: some failed (both fine here); anything else: the run itself broke.
    if proc.returncode not in (0, 1) or not record["outcomes"]:
        record["broken"] = f"pytest exit status {proc.returncode}; see {log_file}\n" + _tail(log_file.read_text(), 15)
    log(f"{what}: {_summary(record['outcomes'])} in {seconds:.0f}s")
    return record


def count_spans(db_dir: Path) -> dict[str, int]:
    """Spans llmdebug stored in the "on" run, by provider."""
    counts: dict[str, int] = {}
    for db in sorted(db_dir.glob("*.db")):
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            for provider, n in con.execute("SELECT coalesce(provider, kind), count(*) FROM spans GROUP BY 1"):
                counts[provider] = counts.get(provider, 0) + n
    return counts


def _counts(outcomes: dict) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome, *_ in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _summary(outcomes: dict) -> str:
    return ", ".join(f"{n} {k}" for k, n in _counts(outcomes).items() if n) or "no tests"


def _places(warnings: list, other: list) -> str:
    """Where ``warnings`` point that ``other`` do not: "DeprecationWarning at file:line (3x)"."""
    counts: dict[tuple, int] = {}
    for category, where in warnings:
        if [category, where] not in other:
            counts[(category, where)] = counts.get((category, where), 0) + 1
    return ", ".join(f"{c} at {w}" + (f" ({n}x)" if n > 1 else "") for (c, w), n in counts.items()) or "-"


def compare(off: dict, on: dict) -> list[dict]:
    """Every test whose outcome differs ("absent": not run at all in that pass) or, same
    outcome, whose warnings point to other lines (the suites cannot see that themselves)."""
    diffs = []
    for nodeid in sorted(off["outcomes"].keys() | on["outcomes"].keys()):
        a = off["outcomes"].get(nodeid, ["absent", ""])
        b = on["outcomes"].get(nodeid, ["absent", ""])
        wa = off.get("warnings", {}).get(nodeid, [])
        wb = on.get("warnings", {}).get(nodeid, [])
        if a[0] != b[0]:
            diffs.append({"test": nodeid, "kind": "outcome", "without": a[0], "with": b[0], "reason": b[1] or a[1]})
        elif wa != wb:
            moved = f"without llmdebug {_places(wa, wb)}; with llmdebug {_places(wb, wa)}"
            diffs.append({"test": nodeid, "kind": "warnings", "without": wa, "with": wb, "reason": moved})
    return diffs


def confirm(venv: Path, sdk: str, src: Path, diffs: list[dict], run_dir: Path, workers: int) -> None:
    """Run the differing tests again, without and with llmdebug: a difference that does not
    come back is a flaky test (timing on a busy machine), not llmdebug's doing. Marks each
    difference ``confirmed`` (True/False) and notes the rerun's outcomes."""
    ids = [d["test"] for d in diffs if "::" in d["test"]]
    if not ids or len(ids) > MAX_RERUN:
        for d in diffs:
            d["confirmed"] = True  # many at once is systematic, not flakiness
        return
    off = run_pass(venv, sdk, src, ids, False, run_dir, workers, "-rerun")
    on = run_pass(venv, sdk, src, ids, True, run_dir, workers, "-rerun")
    again = {d["test"]: d for d in compare(off, on)}
    for d in diffs:
        d["rerun"] = [off["outcomes"].get(d["test"], ["absent"])[0], on["outcomes"].get(d["test"], ["absent"])[0]]
        same = again.get(d["test"], {})
        # A rerun that broke proves nothing: the difference stands.
        d["confirmed"] = (same.get("without"), same.get("with")) == (d["without"], d["with"]) or any(
            "broken" in r for r in (off, on)
        )


def check_sdk(
    venv: Path, sdk: str, version: str, src: Path, selection: list[str], run_dir: Path, workers: int, need_spans: bool
) -> dict:
    """Both passes, the comparison and the rerun of differences for one SDK.
    ``need_spans``: the selection calls SDK methods, so no stored span means no capture."""
    off = run_pass(venv, sdk, src, selection, False, run_dir, workers)
    on = run_pass(venv, sdk, src, selection, True, run_dir, workers)
    db_dir = run_dir / f"{sdk}-db"
    spans = count_spans(db_dir) if db_dir.exists() else {}  # before a rerun adds its own
    broken = [r["broken"] for r in (off, on) if "broken" in r]
    if need_spans and not spans and not broken:
        # Identical outcomes prove nothing if llmdebug was not really capturing.
        broken.append(f"llmdebug stored no span: capture was not on ({on['llmdebug_warnings'] or 'no warning'})")
    # A pass that broke (llmdebug.init raised, pytest crashed) makes every test differ: say
    # that once, as a broken run, instead of listing thousands of consequences.
    diffs = [] if broken else compare(off, on)
    confirm(venv, sdk, src, diffs, run_dir, workers)
    return {
        "version": version,
        "selection": selection,
        "counts": {"without": _counts(off["outcomes"]), "with": _counts(on["outcomes"])},
        "seconds": {"without": off["wall_seconds"], "with": on["wall_seconds"]},
        "differences": [d for d in diffs if d["confirmed"]],
        "flaky": [d for d in diffs if not d["confirmed"]],
        "baseline_failures": [
            {"test": t, "outcome": o, "reason": r}
            for t, (o, r, *_) in sorted(off["outcomes"].items())
            if o in ("failed", "error")
        ],
        "spans": sum(spans.values()),
        "spans_by_provider": spans,
        "llmdebug": on.get("llmdebug"),
        "llmdebug_warnings": on["llmdebug_warnings"],
        "broken": broken,
        "logs": {"without": off["log"], "with": on["log"]},
        "tests": {
            t: [off["outcomes"].get(t, ["absent"])[0], on["outcomes"].get(t, ["absent"])[0]]
            for t in sorted(off["outcomes"].keys() | on["outcomes"].keys())
        },
    }


def report(results: dict) -> None:
    for sdk, r in results["sdks"].items():
        print(f"\n== {sdk} {r['version']}: {' '.join(r['selection'])}")
        print(f"   {'outcome':<10}{'without':>10}{'with llmdebug':>15}")
        for outcome in OUTCOMES:
            a, b = r["counts"]["without"][outcome], r["counts"]["with"][outcome]
            if a or b:
                print(f"   {outcome:<10}{a:>10}{b:>15}{'   <-' if a != b else ''}")
        print(f"   {'seconds':<10}{r['seconds']['without']:>10.0f}{r['seconds']['with']:>15.0f}")
        by = ", ".join(f"{k} {n}" for k, n in sorted(r["spans_by_provider"].items()))
        on = r["llmdebug"] or {}
        print(
            f"   llmdebug {on.get('version', '?')} instrumented {', '.join(on.get('instrumented', [])) or 'nothing'}"
            f" and stored {r['spans']} spans ({by or 'none'})"
        )
        for warning in r["llmdebug_warnings"]:
            print(f"   llmdebug warned: {warning}")
        for broken in r["broken"]:
            print(f"   RUN BROKEN: {broken}")
        if r["baseline_failures"]:
            print(f"   {len(r['baseline_failures'])} tests fail without llmdebug too (not compared further), e.g.:")
            for f in r["baseline_failures"][:5]:
                print(f"     {f['outcome']}: {f['test']}: {''.join(f['reason'].splitlines()[:1])[:150]}")
        for d in r["flaky"]:
            print(f"   flaky, did not repeat: {d['test']}: {d['kind']} {d['reason'][:200]}, rerun {d['rerun']}")
        if r["differences"]:
            print(f"   {len(r['differences'])} tests differ:")
            for d in r["differences"][:MAX_PRINTED]:
                if d["kind"] == "outcome":
                    print(f"   - {d['test']}\n       {d['without']} -> {d['with']}: {d['reason'][:400]}")
                else:
                    print(f"   - {d['test']}\n       same outcome, warnings attributed elsewhere: {d['reason'][:400]}")
            if len(r["differences"]) > MAX_PRINTED:
                print(f"   ... and {len(r['differences']) - MAX_PRINTED} more (see --json)")
        else:
            print("   no test differs")
    print(
        f"\nllmdebug {results['llmdebug']}: {results['differences']} differences, {results['flaky']} flaky;"
        f" setup {results['setup_seconds']:.0f}s, total {results['seconds']:.0f}s"
    )


def _lock(cache: Path):
    """The cache's lock file: held exclusively while setting up, shared while the venv is
    in use, so that a concurrent run (CI and a developer) never rebuilds it under another."""
    cache.mkdir(parents=True, exist_ok=True)
    return open(cache / ".lock", "w")


def _prune_runs(runs: Path, keep: int = 3) -> None:
    for old in sorted(runs.glob("run-*"), key=lambda p: p.stat().st_mtime)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    picked: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, picked = argv[:at], argv[at + 1 :]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="pytest arguments may follow --")
    p.add_argument("--sdk", choices=["openai", "anthropic", "all"], default="all", help="whose suite to run")
    p.add_argument("--subset", action="store_true", help="only the quick CI slice of each suite")
    p.add_argument("--json", type=Path, help="write the machine-readable result here")
    p.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("SDK_CONFORMANCE_CACHE", REPO / ".conformance")),
        help="sdists, venv and run logs (default .conformance/ or $SDK_CONFORMANCE_CACHE)",
    )
    p.add_argument("--workers", type=int, default=2, help="pytest-xdist workers per run (default 2)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the test venv")
    args = p.parse_args(argv)

    t0 = time.time()
    cache = args.cache.resolve()
    # Every installed SDK goes into the venv, as in the user's environment; --sdk picks the suites.
    everything = installed_sdks(list(SUITES))
    sdks = {k: v for k, v in everything.items() if args.sdk in ("all", k)}
    if not sdks:
        log(f"no SDK to check: {args.sdk} is not installed in {sys.executable}")
        return EXIT_DIFFERENT
    with _lock(cache) as lock:
        # Shared while the cache is ready and in use; exclusive only to set it up, so a
        # run never waits for another's suites unless the venv must change under them.
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            sources = fetch_sources(cache, cache / "venv", everything, download=False)
            plan = venv_plan(cache, everything, sources) if sources is not None else None
            if plan is None or args.rebuild or not venv_ready(plan):
                fcntl.flock(lock, fcntl.LOCK_EX)
                sources = fetch_sources(cache, cache / "venv", everything)
                plan = venv_plan(cache, everything, sources)
                if args.rebuild or not venv_ready(plan):
                    build_venv(cache, plan)
                fcntl.flock(lock, fcntl.LOCK_SH)
        except IndexUnreachable as e:
            log(str(e))
            return EXIT_OFFLINE
        return _run(args, picked, cache, plan["venv"], sdks, sources, t0, time.time() - t0)


def _run(args, picked: list[str], cache: Path, venv: Path, sdks: dict, sources: dict, t0: float, setup: float) -> int:
    """Both passes of each SDK's suite, the comparison, the report; returns the exit status."""
    runs = cache / "runs"
    runs.mkdir(exist_ok=True)
    _prune_runs(runs)
    run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("run-%Y%m%d-%H%M%S-"), dir=runs))
    results = {"subset": args.subset, "llmdebug": _llmdebug_revision(), "run_dir": str(run_dir), "sdks": {}}
    for sdk, version in sdks.items():
        selection = picked or list(SUITES[sdk].subset if args.subset else ["tests"])
        results["sdks"][sdk] = check_sdk(
            venv, sdk, version, sources[sdk], selection, run_dir, args.workers, need_spans=not picked
        )
    results["differences"] = sum(len(r["differences"]) for r in results["sdks"].values())
    results["flaky"] = sum(len(r["flaky"]) for r in results["sdks"].values())
    results["spans"] = sum(r["spans"] for r in results["sdks"].values())
    results["broken"] = sum(len(r["broken"]) for r in results["sdks"].values())
    results["setup_seconds"] = round(setup, 1)
    results["seconds"] = round(time.time() - t0, 1)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return EXIT_DIFFERENT if results["differences"] or results["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())
