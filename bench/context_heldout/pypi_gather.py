"""Gather context cases from PyPI patch releases: a's sdist, b's one changelog entry, the lines b changed.

The rules (README.md, "PyPI patch releases") were fixed and committed before any case was scored.
Downloads go to ~/.cache/pwm-bench/pypi (override: $PWM_BENCH_CACHE) and are checked against
PyPI's sha256; re-runs read the cache (the package index JSON is fetched again).

    python bench/context_heldout/pypi_gather.py [--per-package 3] [--pairs 6] [--jobs 6]

Writes bench/data/context_pypi.jsonl and prints the count left after each filter.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import debsrc  # noqa: E402
import pypisrc  # noqa: E402
from gather import EXCLUDED_WORDING, PACKAGING_WORDING, clean  # noqa: E402

OUT = HERE.parent / "data" / "context_pypi.jsonl"
MAX_TREE_FILES = 5_000
MIN_PY_FILES = 30
MIN_WORDS = 6
# Entries about the build, the support matrix, the docs or typing alone: no code to find.
NOT_CODE_WORDING = re.compile(
    r"\b(python\s*3\.\d+|pypy|wheels?|sdist|dependenc(y|ies)|requirements?|pin(ned|s)?|ci|github actions|tox|"
    r"docs?|documentation|readme|type hints?|typing|annotations?|mypy|pyright|py\.typed|licen[cs]e|"
    r"classifiers?|metadata|python_requires|build system|hatch|flit|poetry)\b", re.I)

# Pure-Python projects with a changelog in their sdist, written down before any was examined;
# jinja2, werkzeug, packaging (the dev set) and the other Pallets projects are left out.
PACKAGES = """
attrs cattrs requests urllib3 idna certifi charset-normalizer chardet six python-dateutil pytz tzlocal arrow
pendulum humanize tabulate rich typer httpx httpcore h11 anyio sniffio trio yarl marshmallow alembic mako redis
kombu amqp vine celery pytest pluggy iniconfig coverage tox virtualenv filelock platformdirs distlib build
pyproject-hooks twine readme-renderer docutils pygments babel black isort flake8 pycodestyle pyflakes mccabe pylint
astroid jedi parso prompt-toolkit wcwidth traitlets jsonschema referencing more-itertools toolz boltons decorator
wrapt cachetools tenacity backoff requests-toolbelt oauthlib requests-oauthlib pyjwt paramiko invoke fabric
gunicorn uvicorn starlette fastapi websockets python-multipart email-validator dnspython faker factory-boy
freezegun responses pyparsing sqlparse networkx tomlkit tomli pyyaml markdown mistune bleach html5lib
beautifulsoup4 soupsieve cssselect feedparser python-slugify unidecode jmespath s3transfer pyasn1 rsa
google-auth cachecontrol structlog loguru colorama watchdog sh plumbum pexpect ptyprocess setuptools-scm
hatchling flit-core poetry-core nox pre-commit identify cfgv nodeenv pathspec editorconfig jsonpointer jsonpatch
simplejson python-json-logger sortedcontainers bidict intervaltree portalocker apscheduler schedule croniter
dateparser parsedatetime inflect docopt configargparse prettytable texttable colorlog tqdm emoji validators
voluptuous cerberus schema jsonpickle dill cloudpickle asgiref whitenoise python-dotenv environs dynaconf hvac
sentry-sdk prometheus-client graphql-core pydantic-settings sqlmodel peewee databases aiosqlite aiofiles
sqlalchemy-utils django-environ djangorestframework django-filter django-cors-headers celery-redbeat flower
kazoo pymysql mysql-connector-python pymongo elasticsearch minio smart-open fsspec s3fs gcsfs pyarrow-hotfix
xmltodict defusedxml lxml-html-clean pypdf reportlab openpyxl xlrd xlsxwriter python-docx python-pptx tinycss2
cssutils webencodings markdown2 commonmark mdurl markdown-it-py myst-parser nbformat nbconvert nbclient
jupyter-client jupyter-core ipykernel tornado terminado send2trash passlib
""".split()
# A second list, written after the first set was measured and before any of these was examined:
# the tuning set (split "pypi-tune"), so that the first stays unseen. No name of the first list.
TUNE_PACKAGES = """
aiocache async-lru asyncstdlib httplib2 treq twisted hyperlink incremental automat constantly service-identity
pyopenssl wtforms django-extensions django-debug-toolbar django-crispy-forms django-storages django-redis
django-celery-beat django-model-utils django-import-export django-taggit django-mptt django-guardian
django-polymorphic django-simple-history django-reversion django-compressor django-anymail channels daphne
django-ninja drf-spectacular drf-yasg djangorestframework-simplejwt pytest-cov pytest-xdist pytest-mock
pytest-asyncio pytest-timeout pytest-rerunfailures pytest-django pytest-benchmark mock nose2 testfixtures
time-machine vcrpy httpretty respx pyfakefs syrupy cleo fire argcomplete shellingham questionary blessed urwid
pyfiglet termcolor jsonlines ijson pyhocon hjson json5 ruamel-yaml strictyaml configobj python-box munch addict
glom jsonpath-ng dpath deepdiff dictdiffer ftfy thefuzz langdetect markdownify html2text pymdown-extensions mkdocs
mkdocstrings griffe pdoc sphinx-rtd-theme sphinx-autodoc-typehints numpydoc docformatter pydocstyle autopep8 yapf
pyupgrade autoflake bandit pip-tools pipdeptree check-manifest bump2version towncrier gitpython dulwich scriv
bottle falcon sanic pyramid webob waitress hupper pastedeploy cherrypy cheroot connexion apispec
marshmallow-sqlalchemy webargs limits authlib python-jose jwcrypto social-auth-core mechanicalsoup parsel w3lib
itemadapter queuelib pg8000 records dataset mongoengine motor rq huey dramatiq arq python-magic filetype qrcode
python-barcode pyotp pycountry iso8601 isodate rfc3339-validator python-stdnum geopy docker pysftp netaddr
pywinrm eventlet wsproto h2 hpack hyperframe logbook eliot datadog elastic-apm pkginfo requirements-parser
resolvelib installer wheel distro cachelib diskcache expiringdict ratelimit pybreaker stamina retrying
sqlalchemy pyramid-tm transaction zodb persistent deprecated deprecation
typing-inspect typeguard beartype multipledispatch plum-dispatch pampy funcy fn returns pyrsistent
immutables frozendict sortedcollections ordered-set orderedmultidict furl
 purl rfc3986 uritemplate uri-template python-http-client httpie requests-cache
requests-futures requests-ntlm grequests aioresponses pytest-httpx pytest-httpserver
""".split()
EXCLUDED = {"jinja2", "werkzeug", "packaging", "flask", "click", "itsdangerous", "markupsafe", "quart", "blinker"}


def judge_entry(entries: list[str] | None, clean_entry: Callable[[str], str] = pypisrc.clean_entry,
                not_code: re.Pattern[str] = NOT_CODE_WORDING) -> tuple[str, str | None]:
    """b's one changelog entry as a task (cleaned by `clean_entry`, then `clean`), or why it is none."""
    if entries is None:
        return "no changelog section for b", None
    if len(entries) != 1:
        return "not exactly one entry", None
    task = clean(clean_entry(entries[0]))
    if len(task.split()) < MIN_WORDS:
        return f"entry < {MIN_WORDS} words", task
    if EXCLUDED_WORDING.search(task) or PACKAGING_WORDING.search(task) or not_code.search(task):
        return "excluded wording", task
    return "ok", task


def first_section(logs: list[Path], version: str,
                  entries_of: Callable[[str, str], list[str] | None]) -> list[str] | None:
    """The entries under `version` in the first of the changelog files `logs` with a section for it."""
    for log in logs:
        entries = entries_of(log.read_text(errors="replace"), version)
        if entries is not None:
            return entries
    return None


def try_pair(client: Any, package: str, a: pypisrc.Sdist, b: pypisrc.Sdist, work: Path) -> tuple[str, dict[str, Any] | None]:
    tree_b = work / f"b-{b.version}"
    pypisrc.extract(pypisrc.download(client, b), tree_b)
    logs = pypisrc.changelog_files(tree_b)
    if not logs:
        return "no changelog file", None
    verdict, task = judge_entry(first_section(logs, b.version, pypisrc.changelog_entries))
    if verdict != "ok" or task is None:
        return verdict, None
    tree_a = work / f"a-{a.version}"
    pypisrc.extract(pypisrc.download(client, a), tree_a)
    py, _ = pypisrc.changed_py(tree_a, tree_b)
    if any(kind != "M" for kind in py.values()):
        return "adds/deletes a .py file", None
    gold = {p: lines for p in sorted(py) if (lines := pypisrc.gold_lines(tree_a, tree_b, p, (a.version, b.version)))}
    if not 1 <= len(gold) <= 3:
        return "not 1-3 changed non-test .py files", None
    all_files = [p for p in tree_a.rglob("*") if p.is_file() and not p.is_symlink()]
    n_py = sum(p.suffix == ".py" for p in all_files)
    if n_py < MIN_PY_FILES:
        return f"< {MIN_PY_FILES} .py files", None
    if len(all_files) > MAX_TREE_FILES:
        return f"> {MAX_TREE_FILES} files", None
    repo = work / "repo"
    build_repo(pypisrc.download(client, a), repo)
    return "ok", {
        "id": f"{package}-{b.version}", "package": package, "a": a.version, "b": b.version, "split": "pypi",
        "task": task, "gold": sorted(gold), "gold_lines": gold, "n_py": n_py, "n_files": len(all_files),
        "sdist": {"filename": a.filename, "url": a.url, "sha256": a.sha256}, "tree": debsrc.tree_of(repo),
    }


def build_repo(sdist_path: Path, dest: Path) -> None:
    """`dest` becomes a git repository with one commit of the sdist's files."""
    pypisrc.extract(sdist_path, dest)
    debsrc.git(dest, "init", "-q", "-b", "main")
    debsrc.git(dest, "add", "-A", "-f", ".")
    debsrc.git(dest, "commit", "-q", "--no-verify", "-m", "parent tree", "--date", "2000-01-01T00:00:00Z")


def gather_package(client: Any, package: str, per_package: int, max_pairs: int) -> tuple[Counter[str], list[dict[str, Any]]]:
    counts: Counter[str] = Counter()
    cases: list[dict[str, Any]] = []
    try:
        url = f"https://pypi.org/pypi/{package}/json"
        resp = client.get(url, timeout=60)
        if resp.status_code != 200:
            counts["package not on PyPI"] += 1
            return counts, cases
        pairs = pypisrc.patch_pairs(pypisrc.sdists(resp.json(), url))
    except Exception as exc:  # noqa: BLE001 - one package's failure is counted, not fatal
        counts[f"index error {type(exc).__name__}"] += 1
        return counts, cases
    if not pairs:
        counts["no patch-release pair with sdists"] += 1
    return examine_pairs(pairs[:max_pairs], per_package, lambda a, b, work: try_pair(client, package, a, b, work),
                         "pwm-pypi-", counts)


def examine_pairs(pairs: list[Any], per_package: int, try_one: Any, prefix: str,
                  counts: Counter[str]) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Each (a, b) pair tried in a fresh temporary folder (`try_one(a, b, folder)` -> verdict, case)
    until `per_package` cases; the verdicts counted (an exception counts as an error)."""
    cases: list[dict[str, Any]] = []
    for a, b in pairs:
        if len(cases) >= per_package:
            break
        work = Path(tempfile.mkdtemp(prefix=prefix))
        try:
            verdict, case = try_one(a, b, work)
        except Exception as exc:  # noqa: BLE001 - one pair's failure is counted, not fatal
            verdict, case = f"error {type(exc).__name__}", None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        counts[verdict] += 1
        if case is not None:
            cases.append(case)
    return counts, cases


def gather_all(names: list[str], gather_one: Callable[[Any, str, int, int], tuple[Counter[str], list[dict[str, Any]]]],
               jobs: int, per_package: int, pairs: int, split: str,
               out_path: Path) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Every package's cases (`gather_one`, `jobs` at a time, a line printed per package), written
    to `out_path` as `split`; the verdicts counted over all pairs."""
    import httpx

    total: Counter[str] = Counter()
    out: list[dict[str, Any]] = []
    with httpx.Client(headers={"User-Agent": "pwm-bench"}) as client, ThreadPoolExecutor(jobs) as pool:
        for name, (counts, cases) in zip(names, pool.map(
                lambda n: gather_one(client, n, per_package, pairs), names), strict=True):
            total.update(counts)
            out += cases
            print(f"{name:40s} {len(cases)} case(s)  {dict(counts)}", flush=True)
    out = [{**c, "split": split} for c in out]
    out_path.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in out))
    return total, out


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="pypi", choices=("pypi", "pypi-tune"),
                        help="pypi: the measured set (PACKAGES); pypi-tune: the tuning set (TUNE_PACKAGES)")
    parser.add_argument("--per-package", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=6, help="newest patch-release pairs examined per package")
    parser.add_argument("--jobs", type=int, default=6)
    args = parser.parse_args()
    listed = PACKAGES if args.set == "pypi" else [p for p in TUNE_PACKAGES if p not in PACKAGES]
    names = [p for p in dict.fromkeys(listed) if p not in EXCLUDED]
    out_path = OUT if args.set == "pypi" else OUT.with_name("context_pypi_tune.jsonl")
    total, out = gather_all(names, gather_package, args.jobs, args.per_package, args.pairs, args.set, out_path)
    print(f"\n{len(names)} packages; pairs examined by verdict: {dict(total.most_common())}")
    print(f"{len(out)} cases from {len({c['package'] for c in out})} packages -> {out_path}")


if __name__ == "__main__":
    main()
