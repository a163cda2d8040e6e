"""Replies stay under clients' output warning whatever the answers' length: a group of long answers
shows each cut to fit (the rest via get_task_result), a page too long even so is shortened, and a
submit that waited answers with the group's status, not "running" beside a finished group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tools.get_parallel_group_status import REPLY_CHARS

LONG = "".join(f"def handler_{n}(request):\n    return respond(request, {n})\n\n" for n in range(600))  # ~27k chars


def _data_chars(result: Any) -> int:
    """The reply's data as the JSON text block carries it (what Claude Desktop's model reads)."""
    return len(result.content[1].text)


async def test_a_page_of_long_answers_is_cut_to_fit_and_each_continues_in_get_task_result(tmp_path: Path) -> None:
    tasks = [{"id": f"t{n}", "agent_type": "tcoder_speed", "task_description": f"Write handlers {n}"}
             for n in range(30)]
    with LoopbackProvider() as lp:
        lp.set_default(Reply(LONG))
        async with Client(build_server(load_settings(loop_env(tmp_path, lp.openai_url)))) as client:
            waited = await client.call_tool("submit_parallel_tasks", {"tasks": tasks, "wait_seconds": 40})
            group_id = waited.structured_content["group_id"]
            await wait_finished(client, group_id)
            pages, offset = [], 0
            while offset is not None:
                page = await client.call_tool("get_parallel_group_status",
                                              {"group_id": group_id, "offset": offset, "limit": 100})
                pages.append(page)
                offset = page.structured_content["next_offset"]
            first = pages[0].structured_content["tasks"][0]
            rest, at = "", first["result_next_offset"]
            while at is not None:
                part = await call(client, "get_task_result", {"task_id": first["task_id"], "offset": at})
                rest, at = rest + part["text"], part["next_offset"]
    assert all(_data_chars(p) <= REPLY_CHARS + 200 for p in [waited, *pages])
    assert waited.structured_content["status"] == "succeeded"
    assert waited.structured_content["group_status"]["status"] == "succeeded"
    listed = [t for p in pages for t in p.structured_content["tasks"]]
    assert sorted(t["id"] for t in listed) == sorted(t["id"] for t in tasks)  # every task, once, over the pages
    assert len(pages) > 1 and all(t["result_truncated"] for t in listed)
    assert first["result"] + rest == LONG  # the cut result continues where it stopped
    text = pages[0].content[0].text
    shown = len(pages[0].structured_content["tasks"])
    assert f"Tasks 1-{shown} of 30" in text and f"next_offset {shown}" in text
    assert json.loads(pages[0].content[1].text) == pages[0].structured_content
