"""One set of formatters for every widget and fallback: llmdebug/formatting.py (the text and
HTML fallbacks, the diff's text among them) and ``fmt`` in llmdebug/widgets/_format.js (the
widgets) write the same text, checked here on one table of values in Python and in node."""

import json
import math
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from llmdebug import formatting as fmt

FORMAT_JS = Path(__file__).resolve().parents[1] / "llmdebug" / "widgets" / "_format.js"

# (function, arguments, expected text); None stands for a missing value, "nan"/"inf" are sent
# to node as NaN/Infinity
CASES = [
    ("count", [None], "–"), ("count", ["nan"], "–"), ("count", ["inf"], "–"), ("count", [0], "0"),
    ("count", [7], "7"), ("count", [1234], "1,234"), ("count", [1234567], "1,234,567"),
    ("count", [-1234], "-1,234"), ("count", [2.5], "3"), ("count", [0.5], "1"), ("count", [-2.5], "-3"),
    ("count", [999.4], "999"), ("count", [-0.0], "0"),
    ("tokens", [None, None], "–"), ("tokens", [1234, 567], "1,234→567"), ("tokens", [0, 0], "0→0"),
    ("tokens", [12, None], "12→–"), ("tokens", [None, 3], "–→3"),
    ("cost", [None], "–"), ("cost", ["nan"], "–"), ("cost", [0], "$0"), ("cost", [0.0], "$0"),
    ("cost", [0.000123], "$0.000123"), ("cost", [1.5e-7], "$0.000000"), ("cost", [0.0000015], "$0.000002"),
    ("cost", [0.00999], "$0.009990"), ("cost", [0.0099999999], "$0.010000"), ("cost", [0.01], "$0.0100"),
    ("cost", [0.0123], "$0.0123"), ("cost", [1.5], "$1.5000"), ("cost", [99.99994], "$99.9999"),
    ("cost", [99.99996], "$100.0000"), ("cost", [100], "$100.00"), ("cost", [1234.567], "$1,234.57"),
    ("cost", [1234.125], "$1,234.13"), ("cost", [1234.375], "$1,234.38"), ("cost", [2_500_000], "$2,500,000.00"),
    ("cost", [-0.0012], "-$0.001200"), ("cost", [-12.5], "-$12.5000"),
    ("duration", [None], "–"), ("duration", [0], "0 ms"), ("duration", [0.4], "0 ms"), ("duration", [0.5], "1 ms"),
    ("duration", [840.2], "840 ms"), ("duration", [1234.5], "1,235 ms"), ("duration", [9999.4], "9,999 ms"),
    ("duration", [9999.5], "10.0 s"), ("duration", [12345], "12.3 s"), ("duration", [12350], "12.3 s"), ("duration", [12351], "12.4 s"),
    ("duration", [3_600_000], "3,600.0 s"), ("duration", [-250], "-250 ms"),
    ("percent", [None], "–"), ("percent", [0], "0.0%"), ("percent", [0.125], "12.5%"), ("percent", [1], "100.0%"),
    ("percent", [0.0004], "0.0%"), ("percent", [0.00051], "0.1%"), ("percent", [0.5, 0], "50%"),
    ("percent", [0.125, 0], "13%"), ("percent", [2.5, 2], "250.00%"),
    ("timestamp", [None], "–"), ("timestamp", [""], "–"), ("timestamp", ["not a time"], "not a time"),
    ("timestamp", ["2026-11-26"], "2026-11-26"), ("timestamp", ["2026-13-40T00:00:00Z"], "2026-13-40T00:00:00Z"),
    ("timestamp", ["2026-11-26T24:00:00Z"], "2026-11-26T24:00:00Z"),
]
# the same instants in every form: stored ISO text (UTC, microseconds), no zone, offsets, epoch
INSTANTS = ["2026-11-26T22:20:32.999999Z", "2026-11-26T22:20:32Z", "2026-11-26 22:20:32.5", "2026-11-26T22:20",
            "2026-11-26T23:20:32+01:00", "2026-11-26T17:20:32.123456789-0500", "2026-03-29T01:30:00Z",
            "1999-12-31T23:59:59.999Z", 1795811432.999, 0, 951782400]
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin", "Australia/Lord_Howe"]


def _py(value):
    return {"nan": math.nan, "inf": math.inf}.get(value, value) if isinstance(value, str) and value in ("nan", "inf") \
        else value


@pytest.mark.parametrize("name,args,expected", CASES)
def test_python_formats(name, args, expected):
    assert getattr(fmt, name)(*[_py(a) for a in args]) == expected


def test_python_takes_what_pandas_and_numpy_give():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    assert fmt.count(pd.NA) == fmt.cost(pd.NaT) == fmt.duration(np.float64("nan")) == fmt.MISSING
    assert fmt.count(np.int64(1234)) == "1,234" and fmt.cost(np.float32(0.5)) == "$0.5000"
    assert fmt.cost(Decimal("0.000123")) == "$0.000123" and fmt.count("12") == fmt.MISSING


def test_timestamps_in_a_fixed_zone():
    berlin = ZoneInfo("Europe/Berlin")
    assert fmt.timestamp("2026-11-26T22:20:32.999999Z", berlin) == "2026-11-26 23:20:32"
    assert fmt.timestamp("2026-11-26T22:20:32", berlin) == "2026-11-26 23:20:32"  # no zone: UTC
    assert fmt.timestamp(0, ZoneInfo("UTC")) == "1970-01-01 00:00:00"


# -- the JavaScript formatters write the same text --------------------------------------

_NODE_SCRIPT = r"""
const fs = require("fs");
const fmt = new Function(fs.readFileSync(process.argv[1], "utf8") + "; return fmt;")();
const { cases, instants } = JSON.parse(fs.readFileSync(0, "utf8"));
const arg = (v) => (v === "nan" ? NaN : v === "inf" ? Infinity : v === "-0" ? -0 : v);
process.stdout.write(JSON.stringify({
  table: cases.map(([name, args]) => fmt[name](...args.map(arg))),
  times: instants.map((t) => fmt.timestamp(t)),
  missing: fmt.MISSING,
}));
"""


def _node(tz: str | None = None, cases: list | None = None) -> dict:
    """What _format.js gives for ``cases`` ([name, args] pairs; CASES unless given) and INSTANTS,
    in node with ``TZ=tz`` (this machine's zone unless given)."""
    node = shutil.which("node")
    if not node:
        pytest.skip("node not installed")
    env = dict(os.environ)
    if tz is not None:
        env["TZ"] = tz
    if cases is None:
        cases = [(name, args) for name, args, _ in CASES]
    sent = [[name, ["-0" if a == 0 and math.copysign(1, a) < 0 else a for a in args]] for name, args in cases]
    out = subprocess.run([node, "-e", _NODE_SCRIPT, str(FORMAT_JS)], input=json.dumps({"cases": sent, "instants": INSTANTS}),
                         capture_output=True, text=True, timeout=60, check=True, env=env)
    return json.loads(out.stdout)


def test_js_agrees_on_the_table():
    js = _node()
    assert js["missing"] == fmt.MISSING
    assert js["table"] == [expected for _, _, expected in CASES]


@pytest.mark.parametrize("zone", ZONES)
def test_js_agrees_on_timestamps(zone):
    js = _node(zone)
    assert js["times"] == [fmt.timestamp(t, ZoneInfo(zone)) for t in INSTANTS]


def test_js_agrees_on_timestamps_in_this_machines_zone():
    assert _node()["times"] == [fmt.timestamp(t) for t in INSTANTS]


def test_js_agrees_on_many_numbers():
    """Values around every rounding boundary the formats have, and exact binary ties."""
    values = [0.0000005, 0.0000015, 0.0000025, 0.00000449999, 0.0000045, 0.00999949, 0.0099995, 0.009999951,
              0.01, 0.125, 0.375, 1.005, 2.675, 99.99995, 99.999949, 100.005, 1234.125, 1234.625, 9999.49, 9999.5,
              10049.99, 10050, 10050.000001, 123456.75, 0.1 + 0.2, 1 / 3, 2 / 3, 1e-12, 1e15 + 0.5]
    values += [v * k for v in (0.000123, 0.5, 1.25, 17.3) for k in (1, 3, 7, 11, 1000)]
    values += [-v for v in values]
    cases = [(name, [v]) for v in values for name in ("count", "cost", "duration", "percent")]
    cases += [("tokens", [a, b]) for a, b in zip(values, reversed(values))]
    assert _node(cases=cases)["table"] == [getattr(fmt, name)(*args) for name, args in cases]
