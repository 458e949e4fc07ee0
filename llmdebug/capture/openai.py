"""OpenAI SDK methods captured (chat, Responses, embeddings, legacy completions, images).

``with_raw_response`` / ``with_streaming_response`` call these same methods, so they
are captured too; streams are observed at the HTTP layer.
"""

from ._patch import Endpoint

_CHAT = Endpoint("openai", "chat.completions", "openai-chat")
_RESP = Endpoint("openai", "responses", "openai-responses")
_EMB = Endpoint("openai", "embeddings", "openai-embeddings")
_COMP = Endpoint("openai", "completions", "openai-completions")
_IMG = Endpoint("openai", "images.generate", "openai-images")

_M_CHAT = "openai.resources.chat.completions.completions"
_M_RESP = "openai.resources.responses.responses"

TARGETS = [
    (_M_CHAT, "Completions.create", _CHAT, "sync"),
    (_M_CHAT, "AsyncCompletions.create", _CHAT, "async"),
    (_M_CHAT, "Completions.parse", _CHAT, "sync"),
    (_M_CHAT, "AsyncCompletions.parse", _CHAT, "async"),
    (_M_RESP, "Responses.create", _RESP, "sync"),
    (_M_RESP, "AsyncResponses.create", _RESP, "async"),
    (_M_RESP, "Responses.parse", _RESP, "sync"),
    (_M_RESP, "AsyncResponses.parse", _RESP, "async"),
    ("openai.resources.embeddings", "Embeddings.create", _EMB, "sync"),
    ("openai.resources.embeddings", "AsyncEmbeddings.create", _EMB, "async"),
    ("openai.resources.completions", "Completions.create", _COMP, "sync"),
    ("openai.resources.completions", "AsyncCompletions.create", _COMP, "async"),
    ("openai.resources.images", "Images.generate", _IMG, "sync"),
    ("openai.resources.images", "AsyncImages.generate", _IMG, "async"),
]
