// How every llmdebug widget writes numbers (put in front of each widget's module after _dom.js,
// see widgets/__init__.py). The same rules as llmdebug/formatting.py, which writes the
// text and HTML fallbacks; the tests run both on one table of values.
//
//   fmt.MISSING        "–" for a value that is not there (null, undefined, NaN, ±Infinity)
//   fmt.count(v)       1,234          (rounded to a whole number, half away from zero)
//   fmt.tokens(i, o)   1,234→567      ("–" when both are missing)
//   fmt.cost(usd)      $0 · $0.000123 (under 1¢) · $0.0123 (under $100) · $1,234.57
//   fmt.duration(ms)   840 ms · 12.3 s (from 9,999.5 ms on)
//   fmt.percent(f, d)  12.5%          (f a fraction; d decimals, 1 unless given)
//   fmt.timestamp(t)   2026-11-26 22:20:32, local time (t ISO-8601 text or epoch seconds;
//                      text with no zone is UTC, as the store writes it; other text as it is)
// Every number is rounded like Number.prototype.toFixed, on its exact binary value; Python's
// side uses Decimal(v).quantize(..., ROUND_HALF_UP), which rounds the same.

const fmt = (() => {
  const MISSING = "–";
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  // v with d decimals and thousands separators ("1,234.50")
  const fixed = (v, d) => {
    const [whole, frac] = (Object.is(v, -0) ? 0 : v).toFixed(d).split(".");
    return whole.replace(/\B(?=(\d{3})+$)/g, ",") + (frac ? `.${frac}` : "");
  };
  const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/i;

  function count(v) {
    return isNum(v) ? fixed(v, 0) : MISSING;
  }

  function tokens(i, o) {
    return !isNum(i) && !isNum(o) ? MISSING : `${count(i)}→${count(o)}`;
  }

  function cost(v) {
    if (!isNum(v)) return MISSING;
    if (v === 0) return "$0";
    const a = Math.abs(v);
    return `${v < 0 ? "-" : ""}$${fixed(a, a < 0.01 ? 6 : a < 100 ? 4 : 2)}`;
  }

  function duration(ms) {
    if (!isNum(ms)) return MISSING;
    return Math.abs(ms) >= 9999.5 ? `${fixed(ms / 1000, 1)} s` : `${fixed(ms, 0)} ms`;
  }

  function percent(f, d = 1) {
    return isNum(f) ? `${fixed(f * 100, d)}%` : MISSING;
  }

  function timestamp(t) {
    let date;
    if (isNum(t)) date = new Date(Math.floor(t) * 1000);
    else if (typeof t === "string" && t) {
      const m = ISO.exec(t.trim());
      if (!m || m[2].startsWith("24")) return t;  // Date would take 24:00 as the next midnight
      const zone = !m[3] ? "Z" : m[3].toUpperCase() === "Z" ? "Z" : m[3].replace(/^([+-]\d{2})(\d{2})$/, "$1:$2");
      date = new Date(`${m[1]}T${m[2]}${zone}`);
      if (Number.isNaN(date.getTime())) return t;
    } else return MISSING;
    return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  return Object.freeze({ MISSING, count, tokens, cost, duration, percent, timestamp });
})();

