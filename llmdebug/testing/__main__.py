"""``python -m llmdebug.testing`` / ``llmdebug-fake-server``: run the fake LLM server.

Prints the base URLs and the env vars to export, then serves until Ctrl-C or SIGTERM.
Model-name fault triggers (``fail-429``, ``flaky-2``, ``cut``, ``slow-500``...) are
described in :mod:`llmdebug.testing.server`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .ratelimits import RateLimits
from .server import FakeLLMServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmdebug-fake-server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between SSE events")
    parser.add_argument("--cassette", default=None, help="VCR YAML cassette to replay instead of synthesizing")
    parser.add_argument("--rate-limits", default=None, metavar="REQUESTS,TOKENS[,WINDOW_S]",
                        help="enforce these rate limits per API and model (e.g. 60,40000 per minute); "
                             "'off': send no rate-limit headers (default: report 10,000 requests and "
                             "2,000,000 tokens a minute, never refuse)")
    args = parser.parse_args(argv)

    srv = FakeLLMServer(args.host, args.port, args.latency, args.chunk_delay, cassette=args.cassette,
                        rate_limits=_rate_limits(parser, args.rate_limits))
    srv.start()
    done = threading.Event()
    # SIGTERM must end the process cleanly (exit 0) like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"llmdebug fake LLM server on {srv.url}")
    print(f"  OpenAI base URL:    {srv.openai_base_url}")
    print(f"  Anthropic base URL: {srv.anthropic_base_url}")
    print(f"  Gemini base URL:    {srv.gemini_base_url}")
    print("Export these to point the SDKs at it:")
    print(f"  export OPENAI_BASE_URL={srv.openai_base_url}")
    print("  export OPENAI_API_KEY=sk-fake")
    print(f"  export ANTHROPIC_BASE_URL={srv.anthropic_base_url}")
    print("  export ANTHROPIC_API_KEY=sk-ant-fake")
    print(f"  export GOOGLE_GEMINI_BASE_URL={srv.gemini_base_url}")
    print("  export GOOGLE_API_KEY=fake-gemini-key")
    print("  unset GOOGLE_GENAI_USE_VERTEXAI GOOGLE_GENAI_USE_ENTERPRISE")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


def _rate_limits(parser: argparse.ArgumentParser, text: str | None):
    if text is None:
        return True
    if text.strip().lower() == "off":
        return None
    try:
        parts = [float(p) for p in text.split(",")]
        if len(parts) not in (2, 3):
            raise ValueError
        return RateLimits(int(parts[0]), int(parts[1]), parts[2] if len(parts) == 3 else 60.0)
    except ValueError:
        parser.error(f"--rate-limits {text!r}: give REQUESTS,TOKENS or REQUESTS,TOKENS,WINDOW_S (e.g. 60,40000) or off")


if __name__ == "__main__":
    sys.exit(main())
