"""The quickstart notebook as a plain script: capture calls, then query them.

    python examples/quickstart.py            # against the built-in fake LLM server
    OPENAI_API_KEY=sk-... python examples/quickstart.py   # against the real API
"""

import os

import llmdebug as ld

server = None
OPENAI = {}  # the real API: the SDK reads OPENAI_API_KEY itself
if not os.environ.get("OPENAI_API_KEY"):  # the fake server; nothing is written into the environment
    from llmdebug.testing import demo_server

    server = demo_server()
    OPENAI = {"base_url": server.openai_base_url, "api_key": "sk-fake"}

ld.init(os.environ.get("LLMDEBUG_DB", "llmdebug-example.db"))

import openai  # noqa: E402  (patched on import, after init)

client = openai.OpenAI(**OPENAI)
with ld.trace("example"):
    with ld.span("ask", kind="chain"):
        r = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "One tip for debugging LLM apps?"}]
        )
        print(r.choices[0].message.content)

print(ld.calls(limit=5)[["model", "status", "input_tokens", "output_tokens", "cost_usd", "latency_ms"]])
print(ld.metrics(by="model")[["calls", "error_rate", "latency_p95_ms", "cost_usd"]])
if server:
    server.stop()
