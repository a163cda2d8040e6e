"""Cutting files at symbol boundaries, splitting identifiers, spotting secrets."""

from __future__ import annotations

import pytest

from server.context.chunking import chunk_file
from server.context.secrets import has_secret, is_secret_path
from server.context.terms import clean_task, query_terms, split_identifier

PY = (
    "import os\n\n\n"
    "class Store:\n    \"\"\"Doc.\"\"\"\n\n    def get(self, key):\n        return key\n\n"
    "    def put(self, key, value):\n        pass\n\n\n"
    "# helps\n@decorator\ndef helper():\n    return 1\n"
)


def test_python_is_cut_at_definitions_and_every_line_is_covered() -> None:
    chunks = chunk_file("m.py", PY)
    names = [c.name for c in chunks]
    assert "Store" in names and "helper" in names
    helper = next(c for c in chunks if c.name == "helper")
    assert PY.split("\n")[helper.start_line - 1:helper.end_line][-3:] == ["@decorator", "def helper():", "    return 1"]
    covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
    assert covered == set(range(1, len(PY.rstrip("\n").split("\n")) + 1))


def test_a_large_python_class_is_cut_into_its_methods() -> None:
    body = "".join(f"    def m{i}(self):\n" + "        x = 1\n" * 10 + "\n" for i in range(20))
    chunks = chunk_file("big.py", "class Big:\n" + body)
    assert {"Big.m0", "Big.m19"} <= {c.name for c in chunks}
    assert all(c.end_line - c.start_line < 125 for c in chunks)


@pytest.mark.parametrize(("path", "source", "names"), [
    ("a.js", "function one() {\n  return 1;\n}\n\nclass Two {\n  three() {}\n}\n", {"one", "Two"}),
    ("a.ts", "export function one(): number {\n  return 1;\n}\ninterface Shape { x: number }\n", {"one", "Shape"}),
    ("a.go", "package a\n\nfunc One() int {\n\treturn 1\n}\n\ntype Two struct{}\n", {"One", "Two"}),
    ("a.rs", "fn one() -> i32 {\n    1\n}\n\nstruct Two;\n", {"one", "Two"}),
])
def test_other_languages_are_cut_with_tree_sitter(path: str, source: str, names: set[str]) -> None:
    found = {c.name for c in chunk_file(path, source)}
    assert names <= found


def test_unparsable_python_falls_back_to_definition_lines() -> None:
    chunks = chunk_file("old.py", "def a():\n    print 'x'\n\ndef b():\n    print 'y'\n")
    assert {"a", "b"} <= {c.name for c in chunks}


def test_identifiers_split_into_words_and_compounds() -> None:
    assert split_identifier("parseHTTPHeader_v2") == ["parse", "http", "header", "v", "2"]
    assert query_terms("Fix parse_tag in the `SpecifierSet`") == ["parse", "tag", "parsetag", "specifier", "set",
                                                                  "specifierset"]


def test_commit_hashes_urls_and_version_control_bookkeeping_are_not_search_terms() -> None:
    task = ("[svn] Fix regression since commit d67f0fd4cc2a in parse_tag, see https://example.org/issue_9\n\n"
            "--HG--\nbranch : trunk\n")
    assert query_terms(clean_task(task)) == ["regression", "commit", "parse", "tag", "parsetag"]


@pytest.mark.parametrize("text", [
    'key = "AKIAIOSFODNN7EXAMPLE"', "token: ghp_" + "a1B2" * 9, "OPENAI_API_KEY=sk-" + "x7Yq" * 6,
    "-----BEGIN RSA PRIVATE KEY-----", 'client_secret = "9fQ2xZ7LmP4vR8tK1wN6"',
    "db = 'postgres://admin:hunter2pass@db.internal/app'",
])
def test_token_shaped_secrets_are_spotted(text: str) -> None:
    assert has_secret(text)


@pytest.mark.parametrize("text", [
    "password = get_password()", 'token = "changeme-placeholder"', "task-abcdefghijklmnopqrstuvwxyz",
    'api_key = "your-api-key-here"', "def parse_key(self, key):",
    "    author_email='armin.ronacher@active-4.com',", 'auth_contact = "maintainer7@example-mail.org"',
])
def test_ordinary_code_is_not_taken_for_a_secret(text: str) -> None:
    assert not has_secret(text)


@pytest.mark.parametrize(("path", "secret"), [
    (".env", True), ("config/.env.production", True), ("certs/server.pem", True), ("keys/id_ed25519", True),
    ("home/.ssh/config", True), (".npmrc", True), ("src/keys.py", False), ("docs/environment.md", False),
])
def test_secret_files_are_known_by_name(path: str, secret: bool) -> None:
    assert is_secret_path(path) is secret


def test_a_secret_assigned_at_the_end_of_a_long_line_is_still_spotted() -> None:
    # Only the text just before a literal is read for its name (a long line was quadratic).
    filler = "".join(f'"value_number_{i:05d}", ' for i in range(4000))
    line = f"data = [{filler}]; client_secret = \"9fQ2xZ7LmP4vR8tK1wN6\"\n"
    assert has_secret(line)
    assert has_secret("x = 1\n" + line)
    assert not has_secret(line.replace("client_secret", "client_label"))
