"""Cassettes under aiohttp (google-genai's async client when aiohttp is installed)."""

from __future__ import annotations

from typing import Any


def install(mod: Any, current) -> list:
    return []
