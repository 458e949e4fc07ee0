"""Anthropic SDK methods captured: ``messages.create`` and the ``messages.stream()`` helper."""

from ._patch import Endpoint

_MSG = Endpoint("anthropic", "messages", "anthropic")
_M = "anthropic.resources.messages.messages"
_B = "anthropic.resources.beta.messages.messages"

TARGETS = [
    (_M, "Messages.create", _MSG, "sync"),
    (_M, "AsyncMessages.create", _MSG, "async"),
    # stream() builds a manager that sends the request on __enter__.
    (_M, "Messages.stream", _MSG, ("deferred", "_MessageStreamManager__api_request", False)),
    (_M, "AsyncMessages.stream", _MSG, ("deferred", "_AsyncMessageStreamManager__api_request", True)),
    (_B, "Messages.create", _MSG, "sync"),
    (_B, "AsyncMessages.create", _MSG, "async"),
]
