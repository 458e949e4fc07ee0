"""The cassette file: :class:`Interaction` records, read from and written to JSON (and
read from VCR.py YAML). The format is described in :mod:`llmdebug.cassettes`.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(eq=False)
class Interaction:
    """One HTTP exchange: the request as sent, the response as the client read it.

    Bodies: a ``dict``/``list`` is JSON, a ``str`` text, ``bytes`` anything else.
    ``chunks`` (bytes, as they arrived) replaces ``body`` for a streamed response.
    """

    method: str
    url: str
    request_body: Any = None
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    chunks: list[bytes] | None = None
    stream_error: str | None = None  # "ExceptionName: message" raised after the chunks
    json_style: str | None = None  # how a JSON response body was laid out (see JSON_STYLES); None: compact

    def response_chunks(self) -> list[bytes]:
        """The response body as the bytes to hand to the client, chunk by chunk."""
        if self.chunks is not None:
            return list(self.chunks)
        if isinstance(self.body, (dict, list)):
            data = dump_json(self.body, self.json_style)
        else:
            data = _to_bytes(self.body)
        return [data] if data else []

    def response_headers(self, chunks: list[bytes]) -> list[tuple[str, str]]:
        """The recorded headers, with Content-Length telling the length of ``chunks``."""
        n = str(sum(len(c) for c in chunks))
        return [(k, n if k.lower() == "content-length" else v) for k, v in self.headers]

    # -- JSON form ----------------------------------------------------------------
    def to_json(self) -> dict:
        request: dict[str, Any] = {"method": self.method, "url": self.url}
        request.update(_body_fields(self.request_body))
        response: dict[str, Any] = {"status": self.status, "headers": _headers_out(self.headers)}
        if self.chunks is not None:
            response["chunks"] = _chunks_out(self.chunks)
        else:
            response.update(_body_fields(self.body))
            if self.json_style and isinstance(self.body, (dict, list)):
                response["json_style"] = self.json_style
        if self.stream_error:
            response["stream_error"] = self.stream_error
        return {"request": request, "response": response}

    @classmethod
    def from_json(cls, entry: dict, where: str = "") -> Interaction:
        try:
            req, resp = entry["request"], entry["response"]
            chunks = resp.get("chunks")
            return cls(
                method=str(req["method"]).upper(),
                url=str(req["url"]),
                request_body=_body_in(req),
                status=int(resp["status"]),
                headers=_headers_in(resp.get("headers")),
                body=None if chunks is not None else _body_in(resp),
                chunks=None if chunks is None else [_chunk_in(c) for c in chunks],
                stream_error=resp.get("stream_error"),
                json_style=resp.get("json_style"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{where}: not a cassette interaction ({type(e).__name__}: {e})") from None


# Layouts of JSON bodies as APIs send them: a body that one of them reproduces byte for
# byte is stored parsed (readable) and re-sent exactly as it came.
JSON_STYLES: dict[str, dict] = {
    "compact": {"separators": (",", ":")},
    "spaced": {},
    "indent2": {"indent": 2},
    "indent4": {"indent": 4},
}


def dump_json(body: Any, style: str | None) -> bytes:
    name, _, flags = (style or "compact").partition("+")
    kwargs = dict(JSON_STYLES.get(name, JSON_STYLES["compact"]))
    text = json.dumps(body, ensure_ascii="ascii" in flags, **kwargs)
    return (text + "\n" if "nl" in flags else text).encode("utf-8")


def json_style_of(data: bytes, body: Any) -> str | None:
    """The style (a JSON_STYLES name, ``+nl`` for a final newline, ``+ascii`` for escaped
    non-ASCII) that reproduces ``data`` from ``body``, or None if none does."""
    for name in JSON_STYLES:
        for flags in ("", "+nl", "+ascii", "+ascii+nl"):
            style = name + flags
            if dump_json(body, style) == data:
                return style
    return None


def _to_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _body_fields(body: Any) -> dict:
    if body is None:
        return {}
    if isinstance(body, (dict, list)):
        return {"json": body}
    if isinstance(body, str):
        return {"text": body}
    return {"base64": base64.b64encode(bytes(body)).decode("ascii")}


def _body_in(part: dict) -> Any:
    if "json" in part:
        return part["json"]
    if "text" in part:
        return str(part["text"])
    if "base64" in part:
        return base64.b64decode(part["base64"])
    return None


def _chunks_out(chunks: list[bytes]) -> list:
    # A chunk that ends inside a UTF-8 character joins the next one, so every chunk reads
    # as text; only undecodable bytes are written as base64.
    out: list = []
    pending = b""
    for c in chunks:
        pending += c
        try:
            out.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError as e:
            if e.reason != "unexpected end of data":  # not a character cut at the end: binary
                out.append({"base64": base64.b64encode(pending).decode("ascii")})
                pending = b""
    if pending:
        out.append({"base64": base64.b64encode(pending).decode("ascii")})
    return out


def _chunk_in(c: Any) -> bytes:
    if isinstance(c, str):
        return c.encode("utf-8")
    if isinstance(c, dict) and "base64" in c:
        return base64.b64decode(c["base64"])
    raise ValueError(f"a chunk is a string or {{'base64': ...}}, not {c!r}")


def _headers_out(headers: list[tuple[str, str]]) -> dict:
    out: dict[str, Any] = {}
    for k, v in headers:
        if k in out:
            out[k] = (out[k] if isinstance(out[k], list) else [out[k]]) + [v]
        else:
            out[k] = v
    return out


def _headers_in(headers: Any) -> list[tuple[str, str]]:
    pairs = []
    for k, v in (headers or {}).items():
        for one in v if isinstance(v, list) else [v]:
            pairs.append((str(k), str(one)))
    return pairs


# -- files ------------------------------------------------------------------------------
def is_vcr(path: Path) -> bool:
    return path.suffix.lower() in YAML_SUFFIXES


def read_cassette(path: str | os.PathLike) -> list[Interaction]:
    """The interactions of a cassette file: llmdebug's JSON, or VCR.py YAML (``.yaml``)."""
    path = Path(path)
    if is_vcr(path):
        return _read_vcr(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a cassette (invalid JSON: {e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("interactions"), list):
        raise ValueError(f"{path}: not a cassette (expected an object with an 'interactions' list)")
    version = doc.get("llmdebug_cassette")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: cassette format {version!r}; this llmdebug reads format {FORMAT_VERSION}")
    return [Interaction.from_json(e, f"{path}, interaction {i + 1}") for i, e in enumerate(doc["interactions"])]


def write_cassette(path: str | os.PathLike, interactions: list[Interaction]) -> None:
    """Write ``interactions`` as a JSON cassette (atomically: a reader never sees half a file)."""
    path = Path(path)
    if is_vcr(path):
        raise ValueError(f"{path}: llmdebug writes cassettes as JSON; VCR YAML cassettes are played back only "
                         "(give the recording a .json path)")
    doc = {"llmdebug_cassette": FORMAT_VERSION, "interactions": [i.to_json() for i in interactions]}
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_vcr(path: Path) -> list[Interaction]:
    from ..testing.cassettes import decoded_body, load_cassette  # the fake server's VCR reader (PyYAML)

    out = []
    for it in load_cassette(path):
        body = it["request_body"]
        parsed = _parse_json(body)
        data = decoded_body(it)  # stored decoded, as llmdebug's own cassettes are
        headers = [(k, v) for k, v in it["headers"] if k.lower() != "content-encoding"]
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        it_out = Interaction(method=it["method"], url=it["uri"], request_body=parsed if parsed is not None else body,
                             status=it["status"], headers=headers)
        if "event-stream" in ctype:
            # One recorded blob: played back event by event, as it was streamed.
            it_out.chunks = [p + b"\n\n" for p in data.split(b"\n\n") if p.strip()] or [data]
        else:
            reply = _parse_json(data)
            style = json_style_of(data, reply) if reply is not None else None
            if style is not None:
                it_out.body, it_out.json_style = reply, None if style == "compact" else style
            else:
                it_out.body = data
        out.append(it_out)
    return out


def _parse_json(body: Any) -> Any:
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError):
        return None
    return parsed if isinstance(parsed, (dict, list)) else None
