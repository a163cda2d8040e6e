"""Defined names a task spells out in plain words, on a real temporary git repository."""

from __future__ import annotations

from pathlib import Path

from server.context import ContextOptions
from server.context.rank import rank
from server.context.request import repository_root
from server.context.service import _open
from server.context.spelled import spelled_names
from server.context.terms import query_terms
from tests.validation.helpers import make_repo, write_files

_FILES = {
    "dns/central.py": (
        "def create_zone(context, zone):\n    return zone\n\n\n"
        "def pool_move_zone(context, zone, pool):\n    return pool\n\n\n"
        "def create_record_set_for_zone(context, zone):\n    return zone\n\n\n"
        "def zone_name(zone):\n    return zone.name\n"
    ),
    "dns/storage.py": "def find_pool(context, pool_id):\n    return pool_id\n",
}


def test_names_whose_words_the_task_holds_are_found_loosely_and_partial_matches_are_not(
        tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "repo", _FILES)
    index, _ = _open(repository_root(repo, "workspace"), options)
    snapshot = index.snapshot(None)
    found = spelled_names(snapshot, query_terms("Require keys during zone creation and pool moves"))
    # creation ~ create, moves ~ move; `create_record_set_for_zone` has 2 of its 4 words in the
    # task, `zone_name` 1 of 2 and `find_pool` 1 of 2: none is spelled out.
    assert set(found) == {"create_zone", "pool_move_zone"}
    assert found["pool_move_zone"] > found["create_zone"]  # three words matched against two


def test_a_name_spelled_out_in_words_lifts_its_definition_above_a_chunk_that_only_repeats_the_words(
        tmp_path: Path, options: ContextOptions) -> None:
    files = {f"flow/mod_{i}.py": f"def compute_{i}(value):\n    return value * {i}\n" for i in range(20)}
    files["flow/auth.py"] = ("def clear_credentials(auth):\n    # strip the openstack auth token of the stored context\n"
                             "    auth.token = None\n    return auth.token\n")
    files["flow/data_flow.py"] = ("def add_openstack_data_to_context(wf_ex, ctx):\n    wf_ex.update(ctx)\n\n\n"
                                  "def evaluate(expr):\n    return expr\n")
    repo = make_repo(tmp_path / "repo", files)
    index, _ = _open(repository_root(repo, "workspace"), options)
    snapshot = index.snapshot(None)
    top = rank(snapshot, "Strip the auth token from the openstack data stored in the workflow context")[0]
    assert (snapshot.docs[top.chunk.doc].path, top.chunk.name) == ("flow/data_flow.py", "add_openstack_data_to_context")


def test_a_name_added_to_the_working_tree_is_found_after_the_re_index(tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "repo", _FILES)
    index, _ = _open(repository_root(repo, "workspace"), options)
    terms = query_terms("Refuse a zone transfer to an unknown pool")
    assert "transfer_zone_to_pool" not in spelled_names(index.snapshot(None), terms)
    write_files(repo, {"dns/storage.py": _FILES["dns/storage.py"] + "\n\ndef transfer_zone_to_pool(zone, pool):\n    return pool\n"})
    assert "transfer_zone_to_pool" in spelled_names(index.snapshot(None), terms)
