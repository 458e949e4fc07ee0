"""The one rule for secrets: what llmdebug never stores, and the marker it stores instead.

Applied on the writer thread to everything that reaches the file: request bodies,
SDK keyword arguments (litellm takes ``api_key=``, ``headers=``), base URLs, error
messages, and the input, attributes and metadata of user spans.

- URLs: userinfo (``http://user:KEY@host``) and credential-like query parameters
  (``?key=``, ``api-key=``, ``sig=``, ``token=``, AWS/Azure signatures).
- Headers: every header whose name looks like a credential (auth, key, token, secret,
  signature, cookie, password, session, credential); in litellm's ``headers`` /
  ``extra_headers`` every value but a few harmless protocol headers.
- Fields: credential-named keys with a string value (``api_key``, ``client_secret``,
  ``access_token``, ``password``, AWS and Vertex credentials ...). Keys whose value is
  a dict or list (a tool's JSON schema with an ``api_key`` property) are walked, not
  replaced. ``max_tokens`` or ``prompt_cache_key`` are not credentials.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MARKER", "URL_MARKER", "redact_fields", "redact_url", "redact_text", "redact_body", "redact_kwargs",
           "is_secret_field", "is_secret_header"]

MARKER = "[llmdebug: redacted]"
URL_MARKER = "REDACTED"  # inside URLs: stays a valid URL

_FIELD = re.compile(
    r"(?:^|_)(?:api_?key|apikey|secret|secret_key|private_key|access_key|subscription_key|password|passwd|"
    r"token|credentials?|auth|authorization|cookie|bearer)$"
)
_FIELD_EXACT = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "vertex_credentials",
    "azure_ad_token", "client_secret", "x_api_key", "api_key", "sas_token", "session_id_token",
})
_HEADER = re.compile(r"auth|key|token|secret|signature|cookie|password|passwd|session|credential")
_QUERY = re.compile(r"key|token|sig|secret|password|passwd|auth|credential|security")
# Protocol headers, never a credential (provider modules add their own, see redact_kwargs).
_SAFE_HEADERS = frozenset({"content-type", "accept", "accept-encoding", "user-agent", "idempotency-key"})
_HEADER_DICTS = frozenset({"headers", "extra_headers", "default_headers"})
_URL_FIELDS = frozenset({"api_base", "base_url", "url", "endpoint", "azure_endpoint"})


def _norm(name: Any) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def is_secret_field(name: Any) -> bool:
    """A body field or keyword argument whose string value is a credential."""
    n = _norm(name)
    return n in _FIELD_EXACT or bool(_FIELD.search(n))


def is_secret_header(name: Any) -> bool:
    return bool(_HEADER.search(str(name).lower()))


def redact_url(url: Any) -> Any:
    """``url`` without userinfo and with credential-like query values replaced."""
    if not isinstance(url, str) or ("@" not in url and "?" not in url):
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = URL_MARKER + "@" + netloc.rpartition("@")[2]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(_QUERY.search(k.lower()) for k, _ in pairs):
                query = urlencode([(k, URL_MARKER if _QUERY.search(k.lower()) else v) for k, v in pairs])
        if netloc == parts.netloc and query == parts.query:
            return url
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return redact_text(url)


_TEXT_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#]+@")
_TEXT_QUERY = re.compile(r"([?&][^=&\s#]*(?:key|token|sig|secret|password|passwd|auth|credential|security)[^=&\s#]*=)"
                         r"[^&\s#\"']+", re.I)
_TEXT_BEARER = re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}")


def redact_text(text: Any) -> Any:
    """Credentials inside free text (error messages quoting a URL or a header)."""
    if not isinstance(text, str) or not ("@" in text or "=" in text or "earer" in text):
        return text
    text = _TEXT_USERINFO.sub(r"\1" + URL_MARKER + "@", text)
    text = _TEXT_QUERY.sub(r"\1" + URL_MARKER, text)
    return _TEXT_BEARER.sub(r"\1" + URL_MARKER, text)


def _headers(value: Any, all_values: bool, keep: frozenset = _SAFE_HEADERS) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: (MARKER if isinstance(v, str) and (is_secret_header(k) or (all_values and str(k).lower()
                                                                             not in keep)) else v)
            for k, v in value.items()}


# What a dict key means for redaction, decided once per key: bodies repeat the same few
# dozen keys (an ingested OTel span has ~25 attributes), and normalising plus two regex
# checks per key per span was the largest cost of storing one.
_PLAIN, _SECRET, _HEADER_DICT, _URL_FIELD = 0, 1, 2, 3
_key_kinds: dict = {}


def _key_kind(key: Any) -> int:
    kind = _key_kinds.get(key)
    if kind is None:
        n = _norm(key)
        kind = (_SECRET if n in _FIELD_EXACT or _FIELD.search(n) else _HEADER_DICT if n in _HEADER_DICTS
                else _URL_FIELD if n in _URL_FIELDS else _PLAIN)
        if len(_key_kinds) > 50_000:  # bounded: keys made of data (ids as keys) must not grow it forever
            _key_kinds.clear()
        _key_kinds[key] = kind
    return kind


def redact_fields(obj: Any, _depth: int = 0) -> Any:
    """A copy of ``obj`` with credential fields replaced; ``obj`` itself when nothing is."""
    if _depth > 40:
        return obj
    if isinstance(obj, dict):
        out = None
        for k, v in obj.items():
            if isinstance(v, str):
                kind = _key_kind(k)
                if kind == _SECRET:
                    new = MARKER
                elif kind == _URL_FIELD:
                    new = redact_url(v)
                else:
                    continue
            elif isinstance(v, dict):
                new = _headers(v, all_values=False) if _key_kind(k) == _HEADER_DICT else redact_fields(v, _depth + 1)
            elif isinstance(v, (list, tuple)):
                new = redact_fields(v, _depth + 1)
            else:
                continue
            if new is not v:
                if out is None:
                    out = dict(obj)
                out[k] = new
        return obj if out is None else out
    if isinstance(obj, (list, tuple)):
        items = [redact_fields(v, _depth + 1) for v in obj]
        return obj if all(a is b for a, b in zip(items, obj)) else items
    return obj


def redact_kwargs(kwargs: dict, keep_headers: frozenset = frozenset()) -> dict:
    """SDK keyword arguments as stored (litellm's): credentials, every header value but
    protocol headers (and ``keep_headers``, lower-case names a provider vouches for) and
    URL userinfo replaced; ``None`` values dropped."""
    keep = _SAFE_HEADERS | keep_headers
    out = {}
    for k, v in kwargs.items():
        if v is None:
            continue
        if _norm(k) in _HEADER_DICTS and isinstance(v, dict):
            out[k] = _headers(v, all_values=True, keep=keep)
        else:
            out[k] = v
    return redact_fields(out)


# Every JSON key of a body ("...":), found in one regex pass; a body none of whose keys the
# rule redacts is stored untouched (keys repeat from call to call: each is judged once).
_JSON_KEY = re.compile(rb'"([^"\\\n]{1,64})"\s*:')
_key_verdicts: dict[bytes, bool] = {}


def _may_hold_secret(body: bytes) -> bool:
    verdicts = _key_verdicts
    for key in _JSON_KEY.findall(body):
        hit = verdicts.get(key)
        if hit is None:
            name = key.decode("ascii", "replace")
            hit = is_secret_field(name) or _norm(name) in _URL_FIELDS or _norm(name) in _HEADER_DICTS
            if len(verdicts) < 10_000:
                verdicts[key] = hit
        if hit:
            return True
    return False


def redact_body(body: bytes, loads) -> bytes | Any:
    """A JSON request body as sent: returned as is unless it holds a field the rule
    redacts (a cheap scan decides); then the parsed body, redacted."""
    if not _may_hold_secret(body):
        return body
    try:
        parsed = loads(body)
    except ValueError:
        return body
    cleaned = redact_fields(parsed)
    return body if cleaned is parsed else cleaned
