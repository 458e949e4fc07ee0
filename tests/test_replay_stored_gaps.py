"""ld.replay refuses to send a request whose stored copy was cut, summarised or redacted,
naming the field and how to give it whole; an edit that replaces that part lets it go."""

import importlib

import pytest

import llmdebug as ld
from llmdebug.store import rows

replaying = importlib.import_module("llmdebug.replaying")  # the module (ld.replay is the function)

pytestmark = pytest.mark.usefixtures("llm_server_env")

SYSTEM = "You are terse."
PNG = "data:image/png;base64," + "iVBORw0KGgo" * 7000  # ~77 KB of inline image: summarised when stored


@pytest.fixture
def long_call(ld_on, llm_openai_client):
    """A chat call whose user message is longer than the store keeps (LLMDEBUG_MAX_FIELD_CHARS)."""
    text = "lorem ipsum " * (rows.MAX_FIELD_CHARS // 12 + 1000)
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": text}])
    call = ld.last()
    assert "…[llmdebug: truncated" in call.messages[1]["content"]
    return call


def test_replay_of_a_cut_prompt_is_refused_with_the_field_and_the_fix(long_call, llm_server):
    sent_before = len(llm_server.requests)
    with pytest.raises(ld.ReplayError) as e:
        ld.replay(long_call)
    text = str(e.value)
    assert "messages[1].content" in text and "cut" in text
    assert "LLMDEBUG_MAX_FIELD_CHARS" in text and "ld.edit.message(1, " in text
    assert len(llm_server.requests) == sent_before  # nothing was sent
    assert len(ld.calls()) == 1
    # edits that keep the cut text do not make it whole
    with pytest.raises(ld.ReplayError, match=r"messages\[1\]\.content"):
        ld.replay(long_call, system="Be brief.")
    with pytest.raises(ld.ReplayError, match=r"messages\[1\]\.content"):
        ld.replay(long_call, messages=ld.edit.replace("lorem", "dolor"))
    with pytest.raises(ld.ReplayError, match=r"messages\[1\]\.content"):
        ld.replay(long_call, model="gpt-4o")


def test_an_edit_that_replaces_the_cut_message_goes_ahead(long_call):
    new = ld.replay(long_call, messages=ld.edit.message(1, "the whole question, given again"))
    assert new.status == "ok" and new.replay_of == long_call.id
    assert new.messages[1]["content"] == "the whole question, given again"
    dropped = ld.replay(long_call, messages=ld.edit.remove(1) + ld.edit.append("user", "short"))
    assert dropped.status == "ok"
    whole = ld.replay(long_call, messages=[{"role": "user", "content": "a new conversation"}])
    assert whole.status == "ok"


def test_replay_all_reports_the_cut_call(long_call):
    table = ld.replay_all([long_call])
    assert table["replay_id"].isna().all()
    assert "messages[1].content" in table["replay_error"].iloc[0]


def test_replay_of_a_summarised_image_is_refused_until_the_image_is_given_again(ld_on, llm_openai_client):
    parts = [{"type": "text", "text": "What is in this picture?"}, {"type": "image_url", "image_url": {"url": PNG}}]
    llm_openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": parts}])
    call = ld.last()
    assert "(summarised by llmdebug)" in call.messages[0]["content"][1]["image_url"]["url"]
    with pytest.raises(ld.ReplayError) as e:
        ld.replay(call)
    text = str(e.value)
    assert "messages[0].content[1].image_url.url" in text and "image" in text and "messages=" in text
    again = ld.replay(call, messages=ld.edit.message(0, parts))
    assert again.status == "ok"


def test_redacted_credentials_are_dropped_at_the_top_and_refused_inside(ld_on, llm_server):
    import litellm

    litellm.completion(model="openai/gpt-4o-mini", api_base=llm_server.openai_base_url, api_key="sk-secret-x",
                       extra_headers={"X-Api-Key": "secret"}, messages=[{"role": "user", "content": "hi"}])
    call = ld.last()
    assert call.request["extra_headers"]["X-Api-Key"] in replaying.REDACTION_MARKERS
    with pytest.raises(ld.ReplayError, match=r"extra_headers\.X-Api-Key was redacted.*extra_headers=\.\.\."):
        ld.replay(call)
    # api_key (redacted too) is left out, so litellm reads it from the environment again
    assert "api_key" not in replaying.build_request(call)[1]
    assert ld.replay(call, extra_headers={"X-Api-Key": "given again"}).status == "ok"


def test_the_detector_lists_each_gap_with_its_path():
    request = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "abc…[llmdebug: truncated 10 of 13 chars]"},
            {"role": "user", "content": [{"type": "input_audio", "data": "<2048 bytes, sha256:0123456789abcdef>"}]},
        ],
        "extra_headers": {"x-api-key": replaying.REDACTION_MARKERS[0]},
        "note": "a prompt about …[llmdebug: truncated] markers in general is not one",
    }
    gaps = replaying.stored_gaps(request)
    assert [(g.path, g.kind) for g in gaps] == [
        ("messages[0].content", "truncated"),
        ("messages[1].content[0].data", "bytes"),
        ("extra_headers.x-api-key", "redacted"),
    ]
    assert replaying.stored_gaps({"model": "m", "messages": [{"role": "user", "content": "fine"}]}) == []
