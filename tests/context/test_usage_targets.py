"""Tasks about the uses of a name ("replace uses of `url_decode`"): the call sites come first."""

from __future__ import annotations

from pathlib import Path

from server.context import ContextOptions, select_context
from server.context.rank import RankParams, rank
from server.context.request import repository_root
from server.context.select import SelectParams
from server.context.service import _open
from server.context.terms import usage_targets
from tests.validation.helpers import make_repo


def test_the_names_whose_uses_a_task_is_about_are_read_and_plain_words_are_not() -> None:
    assert usage_targets("replace uses of url_decode with urllib.parse.parse_qsl") == ["url_decode"]
    assert usage_targets("callers\nof Context.get_all() need to copy the result") == ["get_all"]
    assert usage_targets("Replace `parseOld` with parse_new everywhere") == ["parseOld"]
    assert usage_targets("stop using os.getcwdu on Python 3") == ["getcwdu"]
    assert usage_targets("Rename `parse_tag` to `parse_tags`") == ["parse_tag"]
    assert usage_targets("rename the variable to something clearer") == []
    assert usage_targets("replace calls to the API with the new client") == []  # an acronym is a word here
    assert usage_targets("use YAML instead of JSON") == []
    assert usage_targets("replace uses of `HTTP` with the client") == ["HTTP"]  # unless written as code
    assert usage_targets("use colorama instead of termcolor") == []  # a plain word may be anything
    assert usage_targets("replace the helper with a loop") == []
    assert usage_targets("Add a url_decode option") == []  # names a function, asks nothing of its uses


# The module defining the name is full of its words: without the intent every piece of the budget
# goes to it, although the lines to change are the imports and calls elsewhere.
_URLS = "def url_decode(query):\n    '''Decode a url query string.'''\n    return dict(pair.split('=') for pair in query.split('&'))\n\n\n" + "".join(
    f"def url_decode_part_{i}(url, query):\n    '''Decode part {i} of a url query; parse the url.'''\n"
    f"    return query or url.split('?')[{i % 2}]\n\n\n" for i in range(40))
_FILES = {
    "web/urls.py": _URLS,
    "web/forms.py": "from web.urls import url_decode\n\n\ndef parse_form(body):\n    return url_decode(body)\n\n\n"
                    + "".join(f"def field_{i}(form):\n    return form.get('f{i}')\n\n\n" for i in range(20)),
    "web/request.py": "import web.urls\n\n\nclass Request:\n    def args(self):\n        return web.urls.url_decode(self.query)\n",
}


def test_replacing_the_uses_of_a_name_shows_its_call_sites_before_more_of_its_module(
        tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "repo", _FILES)
    task = "replace uses of url_decode with urllib.parse.parse_qsl"

    def shown(w_uses: float) -> list[str]:
        params = SelectParams(rank=RankParams(w_uses=w_uses))
        return [i.path for i in select_context(repo, task, [], 900, options, params=params).items]

    with_intent = shown(RankParams().w_uses)
    assert with_intent[:2] == ["web/forms.py", "web/request.py"] and "web/urls.py" in with_intent
    assert shown(0.0)[0] == "web/urls.py"  # without the intent, the defining module comes first


def test_a_rename_shows_the_definition_and_the_places_that_use_it(tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "repo", _FILES)
    selection = select_context(repo, "Rename url_decode to decode_query", [], 900, options)
    shown = {i.path: (i.start_line, i.end_line) for i in selection.items}
    assert {"web/forms.py", "web/request.py", "web/urls.py"} <= set(shown)
    assert shown["web/urls.py"][0] == 1  # the definition itself, at the top of its module


def test_a_dotted_name_of_one_word_is_found_where_it_is_called(tmp_path: Path, options: ContextOptions) -> None:
    # `getcwdu` has no `_` or capital: it reads as code only because the task writes it dotted.
    files = {f"tools/mod_{i}.py": f"def compute_{i}(path):\n    '''The working path {i}.'''\n    return path\n"
             for i in range(30)}
    files["tools/paths.py"] = "import os\n\n\ndef here():\n    return os.getcwdu()\n"
    repo = make_repo(tmp_path / "repo", files)
    task = "replace calls to os.getcwdu with os.getcwd"
    assert usage_targets(task) == ["getcwdu"]
    index, _ = _open(repository_root(repo, "workspace"), options)
    snapshot = index.snapshot(None)

    def score_of_the_call(w_uses: float) -> float:
        ranked = rank(snapshot, task, params=RankParams(w_uses=w_uses))
        return next(r.score for r in ranked if snapshot.docs[r.chunk.doc].path == "tools/paths.py"
                    and r.chunk.name == "here")

    assert score_of_the_call(6.0) > score_of_the_call(0.0) + 1.0
