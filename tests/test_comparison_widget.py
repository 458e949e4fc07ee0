"""ld.compare: the comparison widget's state (the numbers, the sort, a click's diff), its
text and static HTML views, and prompt/response text shown as text. Experiments run with
the real OpenAI SDK against the fake server."""

from __future__ import annotations

import html

import pytest

import llmdebug as ld
from llmdebug.evaluation.stats import paired_bootstrap
from llmdebug.widgets.comparison import Comparison, sorted_items

ITEMS = [
    {"question": "Can I return shoes?", "context": "Shoes can be returned within 30 days.", "expected": "30 days"},
    {"question": "Do you ship to Norway?", "context": "We ship to Norway in 5 days.", "expected": "Norway"},
    {"question": "Is there a warranty?", "context": "Every laptop has a 2 year warranty.", "expected": "2 year"},
    {"question": "<script>alert(1)</script> refund?", "context": "Refunds take 5 days.", "expected": "5 days"},
]


def mentions(output, expected):
    return expected.lower() in str(output or "").lower()


def verdict(output):
    return "long" if len(output or "") > 110 else "short"


@pytest.fixture
def experiment(ld_on, llm_openai_client):
    return ld.experiment(ITEMS, {"terse": "Answer briefly: {question}", "grounded": "{context}\nQuestion: {question}"},
                         [mentions, verdict], client=llm_openai_client, model="gpt-4o-mini", name="faq",
                         progress=False)


def test_the_numbers_are_the_experiments(experiment):
    df = experiment
    w = ld.compare(df)
    assert isinstance(w, Comparison)
    s = w.summary
    assert s["experiment_id"] == df.attrs["experiment_id"] and s["name"] == "faq"
    assert s["scores"] == ["mentions", "verdict"] and s["numeric_scores"] == ["mentions"]
    boot = paired_bootstrap(df, ["mentions"])
    for v in s["variants"]:
        part = df[df["variant"] == v["name"]]
        assert v["items"] == 4 and v["errors"] == 0
        assert v["cost_usd"] == pytest.approx(part["cost_usd"].sum())
        assert v["input_tokens"] == part["input_tokens"].sum() and v["output_tokens"] == part["output_tokens"].sum()
        assert v["latency_p50_ms"] == pytest.approx(part["latency_ms"].quantile(0.5))
        assert v["latency_p95_ms"] == pytest.approx(part["latency_ms"].quantile(0.95))
        m = v["scores"]["mentions"]
        assert m["mean"] == pytest.approx(part["mentions"].mean())
        ref = next(x for x in boot["means"] if x["variant"] == v["name"])
        assert (m["low"], m["high"]) == (ref["low"], ref["high"])
        assert v["labels"]["verdict"] == part["verdict"].value_counts().to_dict()
    (pair,) = s["pairs"]
    assert (pair["a"], pair["b"], pair["score"]) == ("terse", "grounded", "mentions")
    assert pair["diff"] == pytest.approx(df[df.variant == "terse"]["mentions"].mean()
                                         - df[df.variant == "grounded"]["mentions"].mean())
    # by id and the latest give the same numbers
    assert ld.compare(df.attrs["experiment_id"]).summary == s
    assert ld.compare().summary == s


def test_items_side_by_side_sorted_by_disagreement(experiment):
    w = ld.compare(experiment)
    items = w.items
    assert [it["item_id"] for it in items] == list(dict.fromkeys(experiment["item_id"]))
    first = items[0]
    assert [o["variant"] for o in first["outputs"]] == ["terse", "grounded"]
    assert first["outputs"][1]["output"].startswith('You asked: "Shoes can be returned')
    assert first["outputs"][0]["scores"]["mentions"] == 0.0 and first["outputs"][1]["scores"]["mentions"] == 1.0
    assert first["spread"] == 1.0  # terse misses the answer, grounded has it
    norway = items[1]
    assert norway["spread"] < 1.0  # both mention Norway
    w.sort_by("disagreement")
    assert w.table.sort == "disagreement"
    order = [it["item_id"] for it in sorted_items(items, "disagreement")]
    assert order[-1] == norway["item_id"]
    assert "largest disagreement first" in repr(w)


def test_a_click_opens_the_word_diff_and_the_call_diff(experiment):
    w = ld.compare(experiment)
    assert w.table.pair == ["terse", "grounded"] and w.calls.layout.display == "none"
    iid = w.items[0]["item_id"]
    w.select(iid)
    d = w.table.item_diff
    assert (d["item_id"], d["a"], d["b"]) == (iid, "terse", "grounded")
    a_text = "".join(t for op, t in d["segments"] if op != "insert")
    b_text = "".join(t for op, t in d["segments"] if op != "delete")
    assert a_text == w.items[0]["outputs"][0]["output"] and b_text == w.items[0]["outputs"][1]["output"]
    assert d["calls"] is True and w.calls.layout.display is None
    assert w.calls.diff["a"]["model"].startswith("gpt-4o-mini")
    assert (w.calls.a_label, w.calls.b_label) == ("terse", "grounded")
    assert "Answer briefly" in str(w.calls.diff["messages"])
    w.select(iid, "grounded", "terse")  # the other way round
    assert (w.table.item_diff["a"], w.table.item_diff["b"]) == ("grounded", "terse")
    w.table.selected = ""  # the browser closes it
    assert w.table.item_diff == {} and w.calls.layout.display == "none"


def test_function_variants_without_calls_still_diff_their_outputs(ld_on):
    df = ld.experiment([{"q": "a"}, {"q": "b"}], {"upper": lambda i: i["q"].upper(), "same": lambda i: i["q"],
                                                   "broken": lambda i: 1 / 0}, progress=False)
    w = ld.compare(df)
    w.select(w.items[0]["item_id"], "upper", "broken")
    d = w.table.item_diff
    assert d["calls"] is False and w.calls.layout.display == "none"
    assert "".join(t for op, t in d["segments"] if op != "delete") == "error: ZeroDivisionError: division by zero"
    assert [v["errors"] for v in w.summary["variants"]] == [0, 0, 2]
    assert w.items[0]["spread"] == 1.0  # one variant failed where the others did not
    assert w.summary["pairs"] == [] and w.summary["scores"] == []


def test_text_and_static_views_show_prompts_as_text(experiment):
    w = ld.compare(experiment)
    data, _ = w._repr_mimebundle_()
    page = data["text/html"]
    assert 'class="llmdebug-static llmdebug-static-comparison"' in page
    assert "<script>" not in page
    assert html.escape("<script>alert(1)</script> refund?") in page
    assert "terse" in page and "grounded" in page and "mentions" in page
    assert "paired bootstrap" in page
    text = data["text/plain"]
    assert text.startswith("llmdebug comparison: faq · 4 items, 2 variants")
    assert "terse − grounded: mentions" in text
    assert "<script>alert(1)</script>" in text  # plain text is text
    assert "application/vnd.jupyter.widget-view+json" in data
    # the synced state carries the text as it is: the browser puts it in text nodes
    assert any("<script>alert(1)</script>" in it["input"] for it in w.items)


def test_compare_says_what_it_takes(ld_on):
    with pytest.raises(LookupError, match="no experiment"):
        ld.compare()
    with pytest.raises(KeyError, match="no experiment with id"):
        ld.compare("0123456789abcdef")
    with pytest.raises(TypeError, match="DataFrame"):
        ld.compare(42)
    import pandas as pd

    with pytest.raises(TypeError, match="variant"):
        ld.compare(pd.DataFrame({"x": [1]}))
