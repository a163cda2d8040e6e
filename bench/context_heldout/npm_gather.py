"""Gather context cases from npm patch releases: a's tarball, b's one changelog entry, the lines b changed.

The rules (README.md, "npm patch releases") were fixed before any case was scored, and the two
package lists below before any package's releases were examined. Tarballs go to
~/.cache/pwm-bench/npm (override: $PWM_BENCH_CACHE) and are checked against the registry's
sha512 integrity; re-runs read the cache (the package documents are fetched again).

    python bench/context_heldout/npm_gather.py [--set npm|npm-tune] [--per-package 3] [--pairs 6] [--jobs 4]

Writes bench/data/context_npm.jsonl (`--set npm`, the measured set) or
bench/data/context_npm_tune.jsonl (`--set npm-tune`, the tuning set) and prints the count left
after each filter.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import debsrc  # noqa: E402
import npmsrc  # noqa: E402
from pypi_gather import examine_pairs, first_section, gather_all, judge_entry  # noqa: E402

OUT = HERE.parent / "data" / "context_npm.jsonl"
OUT_TUNE = HERE.parent / "data" / "context_npm_tune.jsonl"
MAX_TREE_FILES = 5_000
MIN_SRC_FILES = 30
MIN_WORDS = 6
# Entries about the build, the bundle, dependencies, the release, CI, the docs, type declarations
# alone, package.json / engines / the supported Node versions, the licence or the lockfile: no code
# to find (the npm counterpart of the PyPI set's NOT_CODE_WORDING), fixed before any case was examined.
NOT_CODE_WORDING = re.compile(
    r"\b(build(s|ing)?|bundl(e|es|ed|er|ing)|dependenc(y|ies)|dev-?dependenc(y|ies)|deps?|bump\w*|upgrad\w*|"
    r"releas\w*|publish\w*|ci|github actions|docs?|documentation|readme|typings?|types? only|only types?|"
    r"type (definitions?|declarations?)|typescript (definitions?|declarations?|types?)|d\.ts|package\.json|"
    r"exports (field|map)|engines|node(\.?js)?\s+(v?\d+(\.\d+)*|versions?|support)|"
    r"(support|drop)\w*\s+(for\s+)?node(\.?js)?|licen[cs]e|lock\s?files?|package-lock(\.json)?|yarn\.lock|"
    r"pnpm-lock(\.yaml)?)\b", re.I)

# The two lists: one combined list of well-known packages that publish their JS / TS source,
# written down before any package was examined (single-file lodash.* and native packages such as
# sharp, canvas, bcrypt, sqlite3 left out), split by a rule fixed with it: a package's family is
# its scope for a scoped name (`@fastify`), else its name; the family goes to the measured set
# ("npm") when the first byte of sha256(family) is even, else to the tuning set ("npm-tune"), so a
# whole scope is on one side. `side_of` is the rule; `main` checks the lists against it.
PACKAGES = """
express @koa/router express-session busboy formidable router http-proxy http-proxy-middleware express-rate-limit
jsonwebtoken jose find-my-way @fastify/cors @fastify/static @fastify/cookie @fastify/multipart @fastify/swagger
@fastify/jwt @fastify/rate-limit @fastify/websocket @fastify/formbody @fastify/helmet @fastify/autoload
@fastify/session restify engine.io ws superagent axios got undici node-fetch commander yargs meow inquirer
@inquirer/core ora cac lilconfig dotenv concurrently nodemon standard-version mocha chai sinon tap
istanbul-lib-instrument c8 nock puppeteer-core selenium-webdriver @testing-library/dom @testing-library/react
@testing-library/user-event chance ajv joi io-ts runtypes validator yaml js-yaml @iarna/toml xmlbuilder2 parse5
css-select postcss postcss-value-parser autoprefixer postcss-preset-env postcss-import postcss-modules
postcss-less postcss-safe-parser postcss-nesting stylelint stylelint-order stylelint-scss date-fns luxon moment
moment-timezone node-cron croner underscore ramda immutable p-queue fast-glob glob globby micromatch fs-extra
rimraf tar tar-stream adm-zip yauzl cross-spawn shelljs winston bunyan log4js loglevel consola npmlog semver
handlebars nunjucks liquidjs highlight.js dompurify sanitize-html iconv-lite csv-stringify fast-csv jimp qrcode
mongoose mongodb knex pg redis typeorm @mikro-orm/core bookshelf cassandra-driver neo4j-driver pouchdb lowdb
level bull bee-queue kafkajs nats mqtt lru-cache graphql @graphql-tools/schema graphql-yoga type-graphql
graphql-request rollup-plugin-dts webpack-dev-middleware mini-css-extract-plugin postcss-loader ts-loader
terser-webpack-plugin terser vite-plugin-pwa vite-plugin-dts vite-tsconfig-paths browserify ts-node ts-morph
acorn espree jscodeshift eslint eslint-plugin-jsx-a11y eslint-plugin-n eslint-plugin-vue eslint-plugin-jsdoc
eslint-plugin-mocha @typescript-eslint/eslint-plugin @typescript-eslint/parser eslint-plugin-tailwindcss
eslint-plugin-testing-library eslint-plugin-cypress eslint-plugin-yml eslint-plugin-playwright
eslint-plugin-vitest eslint-plugin-perfectionist eslint-import-resolver-typescript eslint-plugin-eslint-comments
eslint-plugin-functional prettier-plugin-java prettier-plugin-sh redux @reduxjs/toolkit react-redux jotai
react-hook-form swr i18next vue-router d3-scale d3-shape d3-array d3-selection prosemirror-state
prosemirror-transform @tiptap/core slate konva swiper jquery alpinejs @hotwired/stimulus @hotwired/turbo
backbone @commitlint/cli @changesets/cli npm-check-updates dependency-cruiser jscpd serve node-gyp pacote
@npmcli/arborist @npmcli/config make-fetch-happen minipass normalize-package-data npm-packlist node-schedule
jsrsasign openid-client simple-oauth2 https-proxy-agent basic-ftp simple-git watchpack johnny-five
""".split()
TUNE_PACKAGES = """
koa koa-body multer helmet express-validator passport fastify pino pino-pretty @hapi/hapi @hapi/boom @hapi/hoek
@hapi/wreck @hapi/statehood @hapi/subtext @hapi/catbox socket.io socket.io-client engine.io-client supertest
prompts enquirer listr2 @oclif/core clipanion update-notifier cosmiconfig pm2 semantic-release release-it lerna
jasmine-core karma ava tape nyc istanbul-reports msw webdriverio jsdom happy-dom @faker-js/faker ajv-formats yup
zod superstruct class-validator class-transformer jsonschema @sinclair/typebox fast-json-stringify xml2js
fast-xml-parser htmlparser2 cheerio domutils postcss-selector-parser cssnano postcss-scss tailwindcss
stylelint-prettier less stylus clean-css svgo dayjs chrono-node cron-parser immer rxjs async bluebird minimatch
picomatch chokidar archiver jszip unzipper execa debug ejs pug eta marked markdown-it markdown-it-anchor
markdown-it-footnote markdown-it-attrs showdown turndown prismjs stream-json csv-parse papaparse exceljs pdfkit
pdf-lib sequelize mysql mysql2 ioredis objection kysely tedious nano bullmq agenda amqplib
@elastic/elasticsearch minio cache-manager @apollo/server @apollo/client nexus graphql-ws
subscriptions-transport-ws mercurius @rollup/plugin-node-resolve @rollup/plugin-commonjs @rollup/plugin-babel
@rollup/plugin-typescript @rollup/plugin-terser @rollup/pluginutils rollup-plugin-visualizer webpack
webpack-dev-server html-webpack-plugin css-loader sass-loader babel-loader copy-webpack-plugin uglify-js
@vitejs/plugin-react @vitejs/plugin-vue gulp grunt @babel/core @babel/parser @babel/traverse @babel/generator
@babel/types @babel/preset-env esprima recast magic-string source-map eslint-plugin-import eslint-plugin-react
eslint-plugin-unicorn eslint-plugin-jest eslint-plugin-security eslint-plugin-regexp eslint-plugin-sonarjs
eslint-plugin-markdown eslint-plugin-svelte eslint-plugin-astro eslint-plugin-storybook eslint-plugin-es-x
eslint-plugin-lodash eslint-plugin-no-unsanitized prettier-plugin-tailwindcss
@trivago/prettier-plugin-sort-imports prettier-plugin-svelte prettier-plugin-packagejson @prettier/plugin-xml
@prettier/plugin-php @prettier/plugin-ruby mobx zustand react-router formik @tanstack/query-core react-i18next
vue-i18n pinia vuex chart.js leaflet quill prosemirror-model prosemirror-view @codemirror/view @codemirror/state
fabric sortablejs @popperjs/core tippy.js @floating-ui/dom knockout svelte preact lit conventional-changelog
@semantic-release/npm @semantic-release/github @semantic-release/commit-analyzer
@semantic-release/release-notes-generator depcheck madge typedoc jsdoc http-server browser-sync
npm-registry-fetch cacache ignore nodemailer bcryptjs crypto-js node-forge elliptic otplib oidc-provider
proxy-agent ssh2 ssh2-sftp-client isomorphic-git
""".split()


def side_of(name: str) -> str:
    family = name.split("/", 1)[0] if name.startswith("@") else name
    return "npm" if hashlib.sha256(family.encode()).digest()[0] % 2 == 0 else "npm-tune"


# The filters in the order they are applied, to print the count left after each.
FILTERS = (
    "tarball > 10 MB", "no changelog file", "no changelog section for b", "not exactly one entry",
    f"entry < {MIN_WORDS} words", "excluded wording", "a changed source file > 200 KB",
    "adds/deletes a source file", "not 1-3 changed source files", f"< {MIN_SRC_FILES} source files",
    f"> {MAX_TREE_FILES} files",
)


def try_pair(client: Any, package: str, a: npmsrc.Tarball, b: npmsrc.Tarball, work: Path
             ) -> tuple[str, dict[str, Any] | None]:
    tree_b = work / f"b-{b.version}"
    try:
        npmsrc.extract(npmsrc.download(client, b), tree_b)
    except npmsrc.TooLarge:
        return "tarball > 10 MB", None
    logs = npmsrc.changelog_files(tree_b)
    if not logs:
        return "no changelog file", None
    verdict, task = judge_entry(first_section(logs, b.version, npmsrc.changelog_entries), npmsrc.clean_entry,
                                NOT_CODE_WORDING)
    if verdict != "ok" or task is None:
        return verdict, None
    tree_a = work / f"a-{a.version}"
    try:
        path_a = npmsrc.download(client, a)
    except npmsrc.TooLarge:
        return "tarball > 10 MB", None
    npmsrc.extract(path_a, tree_a)
    kinds, large = npmsrc.changed_sources(tree_a, tree_b)
    if large:
        return "a changed source file > 200 KB", None
    if any(kind != "M" for kind in kinds.values()):
        return "adds/deletes a source file", None
    gold = {p: lines for p in sorted(kinds) if (lines := npmsrc.gold_lines(tree_a, tree_b, p, (a.version, b.version)))}
    if not 1 <= len(gold) <= 3:
        return "not 1-3 changed source files", None
    n_src, n_files = npmsrc.n_source(tree_a)
    if n_src < MIN_SRC_FILES:
        return f"< {MIN_SRC_FILES} source files", None
    if n_files > MAX_TREE_FILES:
        return f"> {MAX_TREE_FILES} files", None
    repo = work / "repo"
    npmsrc.build_repo(path_a, repo)
    return "ok", {
        "id": f"{package}-{b.version}", "package": package, "a": a.version, "b": b.version, "split": "npm",
        "task": task, "gold": sorted(gold), "gold_lines": gold, "n_src": n_src, "n_files": n_files,
        "tarball": a.record(), "tree": debsrc.tree_of(repo),
    }


def gather_package(client: Any, package: str, per_package: int, max_pairs: int
                   ) -> tuple[Counter[str], list[dict[str, Any]]]:
    counts: Counter[str] = Counter()
    cases: list[dict[str, Any]] = []
    try:
        doc = npmsrc.fetch_document(client, package)
        if doc is None:
            counts["package not on npm"] += 1
            return counts, cases
        pairs = npmsrc.patch_pairs(npmsrc.tarballs(package, doc))
    except Exception as exc:  # noqa: BLE001 - one package's failure is counted, not fatal
        counts[f"index error {type(exc).__name__}"] += 1
        return counts, cases
    if not pairs:
        counts["no patch-release pair"] += 1
    return examine_pairs(pairs[:max_pairs], per_package, lambda a, b, work: try_pair(client, package, a, b, work),
                         "pwm-npm-", counts)


def print_counts(total: Counter[str]) -> None:
    """Pairs examined, then the count left after each filter (errors last)."""
    pairs = sum(v for k, v in total.items() if k not in ("package not on npm", "no patch-release pair")
                and not k.startswith("index error"))
    print(f"pairs examined: {pairs}")
    left = pairs
    for name in [*FILTERS, *sorted(k for k in total if k.startswith("error"))]:
        left -= total.get(name, 0)
        print(f"  {'after ' + name:44s} -{total.get(name, 0):5d}  left {left:5d}")
    for k, v in sorted(total.items()):
        if k.startswith("index error"):
            print(f"  packages with {k}: {v}")
    print(f"  cases: {total.get('ok', 0)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="npm", choices=("npm", "npm-tune"),
                        help="npm: the measured set (PACKAGES); npm-tune: the tuning set (TUNE_PACKAGES)")
    parser.add_argument("--per-package", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=6, help="newest patch-release pairs examined per package")
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    if set(PACKAGES) & set(TUNE_PACKAGES) or any(side_of(n) != "npm" for n in PACKAGES) or any(
            side_of(n) != "npm-tune" for n in TUNE_PACKAGES):
        sys.exit("PACKAGES / TUNE_PACKAGES do not follow side_of")
    names = list(dict.fromkeys(PACKAGES if args.set == "npm" else TUNE_PACKAGES))
    out_path = OUT if args.set == "npm" else OUT_TUNE
    t0 = time.perf_counter()
    total, out = gather_all(names, gather_package, args.jobs, args.per_package, args.pairs, args.set, out_path)
    print(f"\n{len(names)} packages: not on npm {total.get('package not on npm', 0)}, "
          f"no patch-release pair {total.get('no patch-release pair', 0)}")
    print_counts(total)
    print(f"{len(out)} cases from {len({c['package'] for c in out})} packages -> {out_path} "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
