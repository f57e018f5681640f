"""The bytes of a streamed Chat Completions response, as the openai SDK parses them."""

from __future__ import annotations

import json

from openai.types.chat.chat_completion_chunk import ChoiceDelta

from labsupport.mockllm import MockModelError
from labsupport.openai_chunks import ChunkBuilder, error_chunk
from labsupport.sse import DONE


def data(line: bytes) -> dict[str, object]:
    text = line.decode()
    assert text.startswith("data: ") and text.endswith("\n\n")
    parsed: dict[str, object] = json.loads(text[len("data: ") :])
    return parsed


def test_chunks_of_one_response_share_id_model_and_object() -> None:
    chunks = ChunkBuilder("lab-mock-1")
    first = data(chunks.delta(ChoiceDelta(content="Hi")))
    last = data(chunks.delta(ChoiceDelta(), finish_reason="stop"))
    assert first["id"] == last["id"] and str(first["id"]).startswith("chatcmpl-")
    assert (first["object"], first["model"]) == ("chat.completion.chunk", "lab-mock-1")
    assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]


def test_a_model_failure_is_an_error_line_and_the_stream_ends_with_done() -> None:
    error = data(error_chunk(MockModelError("boom")))
    assert error["error"] == {
        "message": "boom",
        "type": "server_error",
        "param": None,
        "code": "model_error",
    }
    assert DONE == b"data: [DONE]\n\n"
