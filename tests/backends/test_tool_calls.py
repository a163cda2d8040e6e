"""Tool calling on the wire: tools offered, calls read back (streamed pieces assembled), and a
conversation with tool calls and results sent in each protocol's own shape."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from server.backends.base import ChatMessage, ToolCall, ToolChoice, ToolSpec, tool_specs
from tests.backends.helpers import PROTOCOLS, backend, protocol_request
from tests.support import LoopbackProvider, Reply

READ = ToolSpec(
    "read_file",
    "Read a file of the worktree",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
SEARCH = ToolSpec("search", "Search the repository", {"type": "object", "properties": {"q": {"type": "string"}}})
CALLS = (
    ToolCall("call_a", "read_file", json.dumps({"path": "src/app.py", "lines": [1, 40]})),
    ToolCall("call_b", "search", json.dumps({"q": "def handler(request): ..."})),
)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tool_calls_come_back_whole_in_order(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str, stream: bool
) -> None:
    lp.script("model-x", [Reply("Let me look.", chunks=3, tool_calls=CALLS)])
    request = protocol_request(lp, protocol, stream=stream, tools=(READ, SEARCH))
    done = await backend(protocol, client).complete(request)
    assert done.text == "Let me look."
    assert [(c.name, c.parsed_arguments()) for c in done.tool_calls] == [
        ("read_file", {"path": "src/app.py", "lines": [1, 40]}),
        ("search", {"q": "def handler(request): ..."}),
    ]
    if protocol != "ollama":  # Ollama sends no ids: ours are made up, distinct
        assert [c.id for c in done.tool_calls] == ["call_a", "call_b"]
    assert len({c.id for c in done.tool_calls}) == 2
    assert done.finish_reason == {"openai": "tool_calls", "anthropic": "tool_use", "ollama": "stop"}[protocol]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_call_without_text_or_arguments_is_read(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    lp.script("model-x", [Reply("", tool_calls=(ToolCall("call_z", "list_dir", "{}"),))])
    done = await backend(protocol, client).complete(protocol_request(lp, protocol, tools=(READ,)))
    assert done.text == ""
    assert [(c.name, c.parsed_arguments()) for c in done.tool_calls] == [("list_dir", {})]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_plain_answer_has_no_tool_calls(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    done = await backend(protocol, client).complete(protocol_request(lp, protocol, tools=(READ,)))
    assert done.text == "ok" and done.tool_calls == ()


CONVERSATION = [
    ChatMessage("system", "You edit code."),
    {"role": "user", "content": "Fix the handler"},
    ChatMessage("assistant", "Reading.", tool_calls=CALLS),
    ChatMessage("tool", "def handler(): pass", tool_call_id="call_a"),
    ChatMessage("tool", "no match", tool_call_id="call_b", is_error=True),
]


async def test_openai_wire_carries_tools_calls_and_results(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    request = protocol_request(lp, "openai", messages=CONVERSATION, tools=(READ,))
    await backend("openai", client).complete(request)
    body = lp.requests[0].json
    assert body["tools"] == [
        {"type": "function", "function": {"name": "read_file", "description": READ.description,
                                          "parameters": dict(READ.parameters)}}
    ]
    assert body["messages"][:2] == [
        {"role": "system", "content": "You edit code."},
        {"role": "user", "content": "Fix the handler"},
    ]
    assert body["messages"][2]["tool_calls"][0] == {
        "id": "call_a", "type": "function", "function": {"name": "read_file", "arguments": CALLS[0].arguments}
    }
    assert body["messages"][3:] == [
        {"role": "tool", "tool_call_id": "call_a", "content": "def handler(): pass"},
        {"role": "tool", "tool_call_id": "call_b", "content": "no match"},
    ]


async def test_anthropic_wire_carries_tool_use_and_grouped_tool_results(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    request = protocol_request(lp, "anthropic", messages=CONVERSATION, tools=(READ,))
    await backend("anthropic", client).complete(request)
    body = lp.requests[0].json
    cached = {"cache_control": {"type": "ephemeral"}}  # a tool loop's prefix is cached (see the next test)
    assert body["system"] == [{"type": "text", "text": "You edit code.", **cached}]
    assert body["tools"] == [
        {"name": "read_file", "description": READ.description, "input_schema": dict(READ.parameters)}
    ]
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant["content"] == [
        {"type": "text", "text": "Reading."},
        {"type": "tool_use", "id": "call_a", "name": "read_file", "input": {"path": "src/app.py", "lines": [1, 40]}},
        {"type": "tool_use", "id": "call_b", "name": "search", "input": {"q": "def handler(request): ..."}, **cached},
    ]
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "def handler(): pass"},
            {"type": "tool_result", "tool_use_id": "call_b", "content": "no match", "is_error": True, **cached},
        ],
    }
    assert len(body["messages"]) == 3


async def test_a_tool_loop_marks_a_cache_prefix_that_stays_byte_identical_turn_after_turn(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    """Each turn marks the system prompt and its last two messages; every earlier message goes out
    exactly as it did before (Anthropic reads a cached prefix only if its bytes match)."""
    turn = list(CONVERSATION)
    later = [*turn, ChatMessage("assistant", "Now editing."), ChatMessage("user", "Go on.")]
    for messages in (turn, later):
        await backend("anthropic", client).complete(protocol_request(lp, "anthropic", messages=messages, tools=(READ,)))
    first, second = (r.json["messages"] for r in lp.requests)

    def plain(message: dict) -> dict:
        return {**message, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in message["content"]]}

    def marked(messages: list[dict]) -> list[int]:
        return [i for i, m in enumerate(messages) if any("cache_control" in b for b in m["content"])]

    assert marked(first) == [1, 2] and marked(second) == [3, 4]
    assert [plain(m) for m in second[:3]] == [plain(m) for m in first]
    assert all(isinstance(m["content"], list) for m in second)
    assert all(sum("cache_control" in b for b in m["content"]) <= 1 for m in second)
    # a one-shot call (no tools) is sent as before: nothing to reuse, so no cache write to pay for
    await backend("anthropic", client).complete(protocol_request(lp, "anthropic", messages=CONVERSATION[:2]))
    assert "cache_control" not in json.dumps(lp.requests[-1].json)
    # a follow-up (a conversation resent with more at its end) asks for it like a tool loop
    follow_up = dataclasses.replace(protocol_request(lp, "anthropic", messages=CONVERSATION[:2]), cache_prefix=True)
    await backend("anthropic", client).complete(follow_up)
    body = lp.requests[-1].json
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"} and "tools" not in body
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_ollama_wire_names_the_tool_of_each_result(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    request = protocol_request(lp, "ollama", messages=CONVERSATION, tools=(READ,))
    await backend("ollama", client).complete(request)
    body = lp.requests[0].json
    assert body["tools"][0]["function"]["name"] == "read_file"
    assert body["messages"][2]["tool_calls"][0] == {
        "function": {"name": "read_file", "arguments": {"path": "src/app.py", "lines": [1, 40]}}
    }
    assert body["messages"][3:] == [
        {"role": "tool", "content": "def handler(): pass", "tool_name": "read_file"},
        {"role": "tool", "content": "no match", "tool_name": "search"},
    ]


@pytest.mark.parametrize(("choice", "openai", "anthropic"), [
    ("auto", "auto", {"type": "auto"}),
    ("required", "required", {"type": "any"}),
    ("none", "none", {"type": "none"}),
])
async def test_tool_choice_is_translated(
    lp: LoopbackProvider, client: httpx.AsyncClient, choice: ToolChoice, openai: str, anthropic: dict[str, str]
) -> None:
    for protocol, expected in (("openai", openai), ("anthropic", anthropic)):
        request = dataclasses.replace(protocol_request(lp, protocol, tools=(READ,)), tool_choice=choice)
        await backend(protocol, client).complete(request)
        assert lp.requests[-1].json["tool_choice"] == expected


def test_arguments_that_are_not_an_object_are_reported() -> None:
    with pytest.raises(ValueError):
        ToolCall("c", "t", "[1, 2]").parsed_arguments()
    with pytest.raises(ValueError):
        ToolCall("c", "t", '{"path": ').parsed_arguments()


# The agent loop's own dict shape (server/agent/loop.py): arguments as an object, results named.
AGENT_CONVERSATION = [
    {"role": "system", "content": "You edit code."},
    {"role": "user", "content": "Fix the handler"},
    {
        "role": "assistant",
        "content": "Reading.",
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.parsed_arguments()} for c in CALLS],
    },
    {"role": "tool", "tool_call_id": "call_a", "name": "read_file", "content": "def handler(): pass"},
    {"role": "tool", "tool_call_id": "call_b", "name": "search", "content": "no match", "is_error": True},
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dict_messages_in_the_agent_shape_go_out_like_chat_messages(
    lp: LoopbackProvider, client: httpx.AsyncClient, protocol: str
) -> None:
    speaker = backend(protocol, client)
    specs = [{"name": READ.name, "description": READ.description, "parameters": dict(READ.parameters)}]
    await speaker.complete(protocol_request(lp, protocol, messages=CONVERSATION, tools=(READ,)))
    await speaker.complete(protocol_request(lp, protocol, messages=AGENT_CONVERSATION, tools=tool_specs(specs)))
    records = lp.requests
    assert records[1].json["messages"] == records[0].json["messages"]
    assert records[1].json["tools"] == records[0].json["tools"]
