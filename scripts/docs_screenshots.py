"""Make the README's pictures: docs/trace-tree.png, docs/diff.png, docs/playground.png and
docs/dashboard.png, taken from the real widgets in JupyterLab + headless Chromium.

It uses the browser tests' harness (tests/browser/conftest.py starts JupyterLab,
tests/browser/jlab.py runs a notebook the way a user does) on the demo notebooks the
browser tests run, shortened to the cells the pictures need:

- notebooks/02-debug-an-agent.ipynb: the agent's trace with its failed call open
  (trace tree), that call replayed in the playground with a valid temperature
  (playground), and the agent's first two calls compared (diff);
- notebooks/04-costs-and-latency.ipynb: a simulated week in the dashboard (dashboard).

Each picture is cropped to the widget's box, in the light theme, at a 1280 px window with
the file browser closed. Re-run it after a change to a widget so the README shows what
users see:

    .venv/bin/python scripts/docs_screenshots.py            # about 1.5 minutes
    .venv/bin/python scripts/docs_screenshots.py --out /tmp/shots

Needs Debian's chromium and playwright (the ``dev`` extra). With Pillow installed
(``pip install pillow``) the PNGs are reduced to a 256-colour palette, 40 % of the size
(about 190 KB for the four instead of 460 KB).
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

WIDTH, HEIGHT = 1280, 2400  # tall, so a whole dashboard is inside JupyterLab's scroll area


def _trim_notebook(src: Path, dst: Path, keep) -> int:
    """Copy ``src`` to ``dst`` with only the code cells ``keep(i, source)`` accepts; returns their count."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = [c for i, c in enumerate(code) if keep(i, c.source.strip())]
    nbformat.write(nb, dst)
    return len(nb.cells)


def _hide_sidebar(page) -> None:
    """Close the left sidebar (file browser) for a wider notebook."""
    from playwright.sync_api import expect

    side = page.locator("#jp-left-stack")
    if side.is_visible():
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()
        expect(side).to_be_hidden(timeout=10_000)
    page.wait_for_timeout(500)  # the notebook re-lays out


def _shoot(locator, path: Path) -> None:
    locator.evaluate("e => e.scrollIntoView({block: 'start'})")
    locator.page.wait_for_timeout(400)
    locator.screenshot(path=str(path), animations="disabled", caret="hide")


def agent_shots(browser, lab, artifacts, out: Path) -> None:
    from jlab import assert_clean, run_notebook, widget
    from playwright.sync_api import expect

    n = _trim_notebook(
        REPO / "notebooks" / "02-debug-an-agent.ipynb", lab.root / "notebooks" / "02-debug-an-agent.ipynb",
        lambda i, s: i <= 3 or s == "ld.show(TRACE)")  # setup, %load_ext, the agent, its run; the tree
    with run_notebook(browser, lab, artifacts, "notebooks/02-debug-an-agent.ipynb", {"n_code": n},
                      workspace="docs-agent") as r:
        assert_clean(r)
        _hide_sidebar(r.page)
        w = widget(r, n - 1)
        expect(w.locator(".ldt-title")).to_have_text("refund agent")
        # the trace tree, its failed call open
        w.locator(".ldt-span.ldt-bad").click()
        detail = w.locator(".ldt-detail")
        expect(detail.locator(".ldt-error-box")).to_contain_text("BadRequestError", timeout=30_000)
        r.page.mouse.move(0, 0)
        _shoot(w, out / "trace-tree.png")
        # the playground: that call replayed with a valid temperature
        detail.locator("button", has_text="Replay…").click()
        cell = r.code_cell(n - 1)
        pg = cell.locator(".llmdebug-pg")
        expect(pg).to_have_count(1, timeout=30_000)
        params = pg.locator(".ldp-param input")
        params.nth(1).fill("0.2")
        pg.locator("button.ldp-run").click()
        expect(pg).to_have_attribute("data-running", "0", timeout=60_000)
        expect(pg.locator(".ldp-latest")).to_contain_text("attempt 1 · ok", timeout=30_000)
        expect(pg.locator(".ldp-hrow")).to_have_count(2)
        r.page.mouse.move(0, 0)
        _shoot(pg, out / "playground.png")
        # the diff: the agent's first call (it asks for the tool) against the follow-up
        llm = w.locator(".ldt-span", has=r.page.locator(".ldt-kind-llm"))
        llm.nth(1).click()
        w.locator(".ldt-detail button", has_text="Compare with…").click()
        expect(w.locator(".ldt-message")).to_contain_text("Click another LLM call")
        llm.nth(2).click()
        diff = cell.locator(".llmdebug-diff")
        expect(diff).to_have_count(1, timeout=30_000)
        expect(diff).to_contain_text("added")
        r.page.mouse.move(0, 0)
        _shoot(diff, out / "diff.png")
        assert not r.page_errors, r.page_errors


def dashboard_shot(browser, lab, artifacts, out: Path) -> None:
    from jlab import run_notebook
    from playwright.sync_api import expect

    n = _trim_notebook(REPO / "notebooks" / "04-costs-and-latency.ipynb",
                       lab.root / "notebooks" / "04-costs-and-latency.ipynb",
                       lambda i, s: i <= 2 or s.startswith("dash = ld.dashboard()"))  # setup, the week, the dashboard
    with run_notebook(browser, lab, artifacts, "notebooks/04-costs-and-latency.ipynb", {"n_code": n},
                      offline=True, workspace="docs-dashboard") as r:
        _hide_sidebar(r.page)
        # charts take their width when drawn: draw the dashboard again in the wider notebook
        cell = r.code_cell(n - 1)
        cell.locator(".jp-InputArea-editor").click()
        r.page.keyboard.press("Escape")
        r.page.keyboard.press("Control+Enter")
        expect(cell.locator(".jp-InputArea-prompt")).to_have_text(f"[{n + 1}]:", timeout=60_000)
        d = cell.locator(".jp-OutputArea-output .llmdebug-dashboard")
        expect(d).to_have_count(1)
        charts = d.locator(".llmdebug-chart")
        expect(charts).to_have_count(8, timeout=60_000)
        for i in range(8):
            expect(charts.nth(i)).to_have_attribute("data-rendered", "1", timeout=60_000)
        r.page.mouse.move(0, 0)
        r.page.wait_for_timeout(500)
        _shoot(d, out / "dashboard.png")
        assert not r.page_errors, r.page_errors


def optimise(path: Path) -> bool:
    """Reduce a screenshot to a 256-colour palette (no visible change for these flat UI
    pictures, 40 % of the size) if Pillow is installed; otherwise keep it as taken."""
    try:
        from PIL import Image
    except ImportError:
        return False
    img = Image.open(path).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs", help="where the PNGs go (default: docs/)")
    ap.add_argument("--keep-raw", action="store_true", help="do not optimise the PNGs")
    args = ap.parse_args()

    from conftest import CHROMIUM, CHROMIUM_ARGS, JupyterLab
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} missing (apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llmdebug-docs-") as tmp:
        tmp = Path(tmp)
        root, home, artifacts = tmp / "root", tmp / "home", tmp / "artifacts"
        (root / "notebooks").mkdir(parents=True)
        artifacts.mkdir()
        lab = JupyterLab(root, home).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    real_new_context = browser.new_context

                    def new_context(**kw):  # the harness's context, taller and wider
                        kw["viewport"] = {"width": WIDTH, "height": HEIGHT}
                        return real_new_context(**kw)

                    browser.new_context = new_context
                    agent_shots(browser, lab, artifacts, args.out)
                    dashboard_shot(browser, lab, artifacts, args.out)
                finally:
                    browser.close()
        except BaseException:
            failed = list(artifacts.glob("*.FAILED.png"))
            if failed:
                keep = REPO / "test-artifacts"
                keep.mkdir(exist_ok=True)
                for f in failed:
                    shutil.copy(f, keep / f"docs-{f.name}")
                print(f"failure screenshots in {keep}", file=sys.stderr)
            raise
        finally:
            lab.stop()
    optimised = []
    for name in ("trace-tree", "diff", "playground", "dashboard"):
        path = args.out / f"{name}.png"
        before = path.stat().st_size
        optimised.append(not args.keep_raw and optimise(path))
        w, h = struct.unpack(">II", path.read_bytes()[16:24])
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {w}x{h}, "
              f"{path.stat().st_size / 1024:.0f} KB (taken: {before / 1024:.0f} KB)")
    if not args.keep_raw and not any(optimised):
        print("Pillow is not installed: the PNGs stay as taken (pip install pillow for 40 % of the size)")
    print(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
