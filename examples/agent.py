"""A small tool-using support agent, traced with llmdebug's span API.

    python examples/agent.py                              # against the built-in fake LLM server
    OPENAI_API_KEY=sk-... python examples/agent.py        # against the real API

One trace, "refund agent", holds every step: an intent classifier that fails (a 400),
a keyword retrieval over a tiny FAQ, a chat call that asks for the `lookup_order` tool,
the tool run, the follow-up call with the tool result, and a ticket note written on a
busy deployment that answers 429 twice before the SDK's own retries get through.
Afterwards `ld.spans(trace_id=...)` shows the whole tree; the notebook
notebooks/02-debug-an-agent.ipynb walks through debugging it.
"""

import json
import os
import re

import llmdebug as ld

REAL = bool(os.environ.get("OPENAI_API_KEY"))
server = None
OPENAI = {}  # the real API: the SDK reads OPENAI_API_KEY itself
if not REAL:  # deterministic fake OpenAI-compatible server on 127.0.0.1; nothing written into the environment
    from llmdebug.testing import demo_server

    server = demo_server()
    OPENAI = {"base_url": server.openai_base_url, "api_key": "sk-fake"}

ld.init(os.environ.get("LLMDEBUG_DB", "llmdebug-agent.db"))

import openai  # noqa: E402  (patched on import, after init)

client = openai.OpenAI(**OPENAI)
MODEL = "gpt-4o-mini"
# The fake server picks faults by model name: "flaky-2" answers 429 to the first two
# attempts of a request, "fail-400" always answers 400. The real API gets the plain
# model: no 429s on demand there, and the classifier still fails (temperature=5 is invalid).
BUSY_MODEL = MODEL if REAL else "gpt-4o-mini-flaky-2"
BROKEN_MODEL = MODEL if REAL else "gpt-4o-mini-fail-400"

FAQ = [
    ("refunds", "Refunds are accepted within 30 days of delivery for unused items."),
    ("refund shipping", "Return shipping is free for damaged items; otherwise it costs $5."),
    ("exchanges", "Exchanges for another size ship within 2 business days."),
    ("order status", "Order status and delivery dates are in the lookup_order tool."),
    ("gift cards", "Gift cards cannot be refunded or exchanged."),
]
ORDERS = {"1042": {"item": "rain jacket", "delivered": "12 days ago", "used": False, "total": "$89.00"}}
TOOLS = [{"type": "function", "function": {
    "name": "lookup_order",
    "description": "Look up an order's item, delivery date, use and total by its order id.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string", "description": "e.g. 1042"}},
                   "required": ["order_id"]}}}]


def retrieve(query: str, k: int = 2) -> list[str]:
    """Keyword-overlap search over the FAQ (a stand-in for a vector store)."""
    with ld.span("retrieve faq", kind="retrieval", k=k) as s:
        s.set_input(query)
        words = set(re.findall(r"[a-z]+", query.lower()))
        scored = sorted(((len(words & set(re.findall(r"[a-z]+", (t + " " + d).lower()))), d) for t, d in FAQ),
                        reverse=True)
        docs = [d for score, d in scored[:k] if score]
        s.set_output(docs)
        return docs


def lookup_order(order_id: str) -> dict:
    """The tool. Models pass ids as "1042", "#1042" or a whole sentence: keep the digits."""
    digits = "".join(re.findall(r"\d+", order_id))
    return ORDERS.get(digits, {"error": f"no order {order_id!r}"})


def run_tool(call) -> str:
    with ld.span(call.function.name, kind="tool") as s:
        args = json.loads(call.function.arguments)
        s.set_input(args)
        result = lookup_order(**args)
        s.set_output(result)
        return json.dumps(result)  # tool messages carry text


@ld.traced(kind="chain")
def classify(question: str) -> str:
    """Route the question. The bug on purpose: temperature=5 is out of range, so it 400s."""
    try:
        r = client.with_options(max_retries=0).chat.completions.create(
            model=BROKEN_MODEL, temperature=5,
            messages=[{"role": "user", "content": f"One word, the intent of: {question}"}])
        return r.choices[0].message.content
    except openai.BadRequestError as e:  # the agent carries on with a default; the trace keeps the error
        print(f"classifier failed ({type(e).__name__}), assuming 'refund'")
        return "refund"


@ld.traced(name="agent loop", kind="agent")
def answer(question: str) -> str:
    docs = retrieve(question)
    messages = [
        {"role": "system", "content": "You are a support agent. Policy:\n" + "\n".join(docs)
         + "\nUse lookup_order for facts about an order."},
        {"role": "user", "content": question},
    ]
    for _ in range(4):  # model -> tools -> model, until it answers in text
        reply = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS).choices[0].message
        if not reply.tool_calls:
            return reply.content
        messages.append({"role": "assistant", "content": reply.content,
                         "tool_calls": [c.model_dump() for c in reply.tool_calls]})
        for call in reply.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": run_tool(call)})
    return "Sorry, I could not finish."


@ld.traced(kind="chain")
def ticket_note(text: str) -> str:
    """Summarise for the ticket on a busy deployment: 429, 429, then ok via the SDK's retries."""
    r = client.chat.completions.create(
        model=BUSY_MODEL, messages=[{"role": "user", "content": f"Summarise for a support ticket: {text}"}])
    return r.choices[0].message.content


def main() -> None:
    try:
        question = "Can I get a refund for order 1042? The jacket is unused."
        with ld.trace("refund agent", user="demo") as t:
            classify(question)
            final = answer(question)
            ticket_note(final)
        print("answer:", final)

        # The trace as a tree: depth from the parent chain, children in start order.
        df = ld.spans(trace_id=t.trace_id)
        parents = dict(zip(df["id"], df["parent_id"]))
        depth = {i: 0 for i in df["id"]}
        for i in df["id"]:
            p = parents[i]
            while isinstance(p, str) and p in parents:
                depth[i], p = depth[i] + 1, parents[p]
        for row in df.itertuples():
            model = row.model if isinstance(row.model, str) else ""
            print(f"{'  ' * depth[row.id] + row.name:<28} {row.kind:<9} {row.status:<5} {model:<21} "
                  f"retries={row.retries} 429s={row.rate_limit_hits} {row.latency_ms:6.1f} ms "
                  + (f"{row.error_type} (HTTP {row.http_status})" if row.status == "error" else ""))
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
