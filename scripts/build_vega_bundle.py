#!/usr/bin/env python3
"""Regenerate ``llmdebug/widgets/vega_runtime.js``: Vega + Vega-Lite + vega-embed as ONE
minified ES module, shipped as package data and loaded once per page by
``llmdebug.widgets.vega.VegaRuntime`` (never from a CDN, never copied into a chart).

    python scripts/build_vega_bundle.py            # rebuild the vendored file
    python scripts/build_vega_bundle.py --check    # fail if the vendored file is not built from PINS

Needs node + npm (packages come from the npm registry; nothing else is fetched).
The pins below are the versions in the vendored file; its header repeats them together
with every bundled package's version and license text.

Choosing versions: Vega-Lite must be at least the version in the ``$schema`` altair writes
(``altair.SCHEMA_VERSION``; altair 6.3.0 -> v6.4.1), else vega-embed warns that the spec
is newer than the library. Vega: the newest 6.x that Vega-Lite accepts (peer ``^6``).
vega-embed: the newest 7.x (the major altair 6 names in ``alt.VEGAEMBED_VERSION``).

Output: ``export { vegaEmbed, vega, vegaLite }`` (vega and vegaLite as namespaces), ES2020.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PINS = {
    "vega": "6.4.0",
    "vega-lite": "6.4.1",
    "vega-embed": "7.3.0",
}
ESBUILD = "0.28.2"
# Packages a bundled package's own dist inlines (so esbuild's metafile cannot see them).
INLINED_BY = {"d3-delaunay": ["delaunator", "robust-predicates"]}

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "llmdebug" / "widgets" / "vega_runtime.js"
ENTRY = """\
export { default as vegaEmbed } from "vega-embed";
export * as vega from "vega";
export * as vegaLite from "vega-lite";
"""
SMOKE = """\
const m = await import(process.argv[2]);
const spec = {"$schema": "https://vega.github.io/schema/vega-lite/v%s.json",
  data: {values: [{a: "x", b: 1}, {a: "y", b: 3}]}, mark: "bar",
  encoding: {x: {field: "a", type: "nominal"}, y: {field: "b", type: "quantitative"}}};
const view = new m.vega.View(m.vega.parse(m.vegaLite.compile(spec).spec), {renderer: "none"});
const svg = await view.toSVG();
if (typeof m.vegaEmbed !== "function" || !svg.includes("<path")) throw new Error("bundle smoke test failed");
console.log(JSON.stringify({vega: m.vega.version, vegaLite: m.vegaLite.version, svg: svg.length}));
"""
LICENSE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license", "License.md", "UNLICENSE")


def _run(cmd: list[str], cwd: Path) -> str:
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, cwd=cwd, check=True, text=True, stdout=subprocess.PIPE).stdout


def _package_roots(meta: dict, out_name: str) -> list[Path]:
    roots: set[str] = set()
    for path in meta["outputs"][out_name]["inputs"]:
        found = list(re.finditer(r"node_modules/((@[^/]+/)?[^/]+)", path))
        if found:
            roots.add(path[: found[-1].end()])
    return sorted(Path(r) for r in roots)


def _license_text(pkg_dir: Path) -> str:
    for name in LICENSE_NAMES:
        p = pkg_dir / name
        if p.is_file():
            return p.read_text(errors="replace").strip()
    raise SystemExit(f"no license file in {pkg_dir}: add it by hand before shipping")


def _header(work: Path, roots: list[Path], digest: str) -> str:
    pkgs = []
    for root in roots + [work / "node_modules" / n for r in roots for n in INLINED_BY.get(r.name, [])]:
        info = json.loads((work / root / "package.json").read_text())
        pkgs.append((info["name"], info["version"], info.get("license", "?"), _license_text(work / root)))
    pkgs = sorted(set(pkgs))
    groups: dict[str, list[str]] = {}
    for name, version, spdx, text in pkgs:
        groups.setdefault(text, []).append(f"{name}@{version} ({spdx})")
    pins = ", ".join(f"{k} {v}" for k, v in PINS.items())
    lines = [
        f"llmdebug vendored Vega runtime: {pins}.",
        f"Built by scripts/build_vega_bundle.py with esbuild {ESBUILD} (ESM, ES2020, minified);",
        "do not edit by hand. Exports: vegaEmbed, vega, vegaLite.",
        f"sha256 of the code below this comment: {digest}",
        "",
        f"Bundled packages ({len(pkgs)}): " + ", ".join(f"{n}@{v}" for n, v, _, _ in pkgs),
        "",
        "Their licenses follow, each text once with the packages it covers.",
    ]
    for text, names in groups.items():
        lines += ["", "-" * 72, "Applies to: " + ", ".join(names), "", *text.splitlines()]
    body = "\n".join((" * " + ln).rstrip() for ln in lines).replace("*/", "* /")
    return "/*!\n" + body + "\n */\n"


def build(out: Path, workdir: Path | None = None) -> dict:
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: the bundle is built with node + npm")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="llmdebug-vega-")
        workdir = Path(tmp.name)
    try:
        work = workdir
        work.mkdir(parents=True, exist_ok=True)
        (work / "package.json").write_text(json.dumps({
            "name": "llmdebug-vega-bundle", "private": True, "version": "0.0.0", "type": "module",
            "dependencies": {**PINS, "esbuild": ESBUILD}}, indent=1))
        (work / "entry.js").write_text(ENTRY)
        # --ignore-scripts: no install script runs; esbuild's binary comes as an optional dependency
        _run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"], work)
        _run([str(work / "node_modules" / ".bin" / "esbuild"), "entry.js", "--bundle", "--minify",
              "--format=esm", "--platform=browser", "--target=es2020", "--legal-comments=none",
              "--charset=utf8", "--metafile=meta.json", "--outfile=out.js"], work)
        code = (work / "out.js").read_text().strip() + "\n"
        (work / "smoke.mjs").write_text(SMOKE % PINS["vega-lite"])
        smoke = json.loads(_run(["node", "smoke.mjs", str(work / "out.js")], work).strip().splitlines()[-1])
        if smoke["vega"] != PINS["vega"] or smoke["vegaLite"] != PINS["vega-lite"]:
            raise SystemExit(f"bundle reports {smoke}, pinned {PINS}")
        meta = json.loads((work / "meta.json").read_text())
        digest = hashlib.sha256(code.encode()).hexdigest()
        text = _header(work, _package_roots(meta, "out.js"), digest) + code
        out.write_text(text)
        return {"bytes": len(text.encode()), "code_bytes": len(code.encode()), "sha256": digest, **smoke}
    finally:
        if tmp is not None:
            tmp.cleanup()


def check(out: Path) -> list[str]:
    """Problems with the vendored file: stale pins, edited code, a schema newer than Vega-Lite."""
    problems = []
    text = out.read_text()
    head, _, code = text.partition(" */\n")
    pins = ", ".join(f"{k} {v}" for k, v in PINS.items())
    if f"vendored Vega runtime: {pins}." not in head:
        problems.append(f"{out.name} was not built from the pins {pins}")
    m = re.search(r"sha256 of the code below this comment: ([0-9a-f]{64})", head)
    if not m or hashlib.sha256(code.encode()).hexdigest() != m.group(1):
        problems.append(f"{out.name}: the code does not match the sha256 in its header (edited by hand?)")
    try:
        import altair as alt

        schema = tuple(int(x) for x in alt.SCHEMA_VERSION.lstrip("v").split("."))
        if schema > tuple(int(x) for x in PINS["vega-lite"].split(".")):
            problems.append(f"altair writes $schema {alt.SCHEMA_VERSION}, newer than Vega-Lite {PINS['vega-lite']}")
    except ImportError:
        pass
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only verify the vendored file against PINS")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--workdir", type=Path, help="keep node_modules here (default: a temp dir)")
    args = ap.parse_args()
    if args.check:
        problems = check(args.out)
        print("\n".join(problems) or f"{args.out.name}: OK ({args.out.stat().st_size:,} bytes)")
        raise SystemExit(1 if problems else 0)
    print(json.dumps(build(args.out, args.workdir), indent=1))


if __name__ == "__main__":
    main()
