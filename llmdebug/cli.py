"""The ``llmdebug`` command.

``llmdebug receive``: an OTLP/HTTP receiver writing into a trace file, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from urllib.parse import quote

__all__ = ["main"]


def _receive(args: argparse.Namespace) -> int:
    from . import session
    from .otel.receiver import receive
    from .store import StoreError

    try:
        r = receive(args.port, args.host, token=args.token, max_bytes=int(args.max_mb * 2**20), db=args.db)
    except (ValueError, OSError, StoreError) as e:
        print(f"llmdebug: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    stop = threading.Event()
    # SIGTERM (a service manager, a test's terminate()) stops as cleanly as Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"llmdebug: receiving OpenTelemetry traces at {r.url}/v1/traces "
          f"into {session.get_store().path} (Ctrl-C to stop)")
    print(f"OTEL_EXPORTER_OTLP_ENDPOINT={r.url}")
    if args.token:
        print(f"OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{quote(args.token, safe='')}")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):  # a timed wait, so Ctrl-C is seen on every platform
            pass
    except KeyboardInterrupt:
        pass
    written = r.stop()
    st = r.stats
    print(f"llmdebug: stopped. {st['requests']} requests, {st['stored']} spans stored, "
          f"{st['skipped']} already stored, {st['rejected']} rejected"
          + ("" if written else "; some spans could not be written yet (see the warning)"))
    return 0 if written else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmdebug", description="llmdebug: a local-first LLM debugger.")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("receive", help="receive OpenTelemetry traces over OTLP/HTTP into a trace file",
                         description="Listen for OTLP/HTTP trace exports (POST /v1/traces, protobuf or "
                                     "JSON) and store the spans. Runs until Ctrl-C.")
    rec.add_argument("--port", type=int, default=4318, help="port (default 4318, OTLP/HTTP's)")
    rec.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1; any other needs --token)")
    rec.add_argument("--db", default=None, help="trace file (default $LLMDEBUG_DB or ./llmdebug.db)")
    rec.add_argument("--token", default=os.environ.get("LLMDEBUG_RECEIVER_TOKEN") or None,
                     help="require 'Authorization: Bearer TOKEN' (default $LLMDEBUG_RECEIVER_TOKEN)")
    rec.add_argument("--max-mb", type=float, default=32.0, help="largest request body in MB (default 32)")
    rec.set_defaults(run=_receive)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
