#!/usr/bin/env bash
# CI, clients: the server as real MCP clients meet it. Fails on any error.
#   1. the wheel installed outside the checkout (as `pipx install .` does), launched from another cwd;
#   2. the official MCP Inspector CLI over stdio (launched by the example Claude Desktop config)
#      and over streamable HTTP: tools/list, resources/list, route_task, validate_workspace; and
#      the official conformance scenarios that apply, over HTTP;
#   3. `mcpb validate manifest.json`, `mcpb pack`, and the packed bundle run as its manifest says
#      (uv, from PyPI), beside `uvx --from <checkout>`;
#   4. the README's Claude Code registration lines with the real `claude` CLI (scratch HOME, no
#      API key), then `claude mcp list` must say Connected.
# Node tools come from npm (with a Node recent enough for them, also from npm); Python from PyPI.
# Usage: .ci/clients.sh [path/to/venv]   (default .venv, made by .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
VENV="$(cd "${1:-.venv}" && pwd)"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*" >&2; }

# A scratch home: nothing here reads or writes the real user's config, keys or database.
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config"
mkdir -p "$HOME"
unset ANTHROPIC_API_KEY OPENAI_API_KEY OPENROUTER_API_KEY GROQ_API_KEY CEREBRAS_API_KEY GEMINI_API_KEY DEEPSEEK_API_KEY

step "Node tools from npm"
# The Inspector needs Node >= 22.19 (`npm view @modelcontextprotocol/inspector engines`); when the
# system's is older, the Node binary itself comes from npm (node-<os>-<arch>, no install script).
NODE_DIR="${CI_NODE_DIR:-$WORK/node}"  # CI_NODE_DIR: keep the npm installs between local runs
mkdir -p "$NODE_DIR"
echo '{"private": true, "allowScripts": {"@anthropic-ai/claude-code": true}}' > "$NODE_DIR/package.json"
npm_install() { (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error "$@" >&2); }
node_ok() { command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)'; }
if ! node_ok; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
  npm_install "node-linux-$arch@22"
  export PATH="$NODE_DIR/node_modules/node-linux-$arch/bin:$PATH"
fi
node_ok || { echo "no Node >= 22.19 available" >&2; exit 1; }
npm_install @modelcontextprotocol/inspector @anthropic-ai/mcpb @anthropic-ai/claude-code @modelcontextprotocol/conformance
export PATH="$NODE_DIR/node_modules/.bin:$PATH"
# npm may hold back a package's install script; claude's only copies its native binary in place.
claude --version >/dev/null 2>&1 || node "$NODE_DIR/node_modules/@anthropic-ai/claude-code/install.cjs" >&2
echo "node $(node --version), inspector $(node -p "require('$NODE_DIR/node_modules/@modelcontextprotocol/inspector/package.json').version"), claude $(claude --version)" >&2

step "wheel installed outside the checkout (like pipx install .)"
python3 -m venv "$WORK/pipx-venv"
"$WORK/pipx-venv/bin/pip" install -q "$REPO" 2>&1 | grep -v "is ignored" >&2 || true
INSTALLED="$WORK/pipx-venv/bin/parallel-work-manager"
test -x "$INSTALLED"
(cd "$WORK" && "$INSTALLED" --version)

# `inspect ARGS...`: one Inspector CLI call; fails on a non-zero exit or a tool result marked isError.
inspect() {
  local out
  out="$(mcp-inspector --cli --connect-timeout "${CONNECT_TIMEOUT_MS:-60000}" "$@" 2>"$WORK/inspector.err")" || { cat "$WORK/inspector.err" >&2; echo "$out" >&2; return 1; }
  printf '%s' "$out" | python3 -c '
import json, sys
body = json.load(sys.stdin)
if body.get("isError"):
    sys.exit("tool error: " + json.dumps(body)[:2000])
print(json.dumps(body)[:300])
' >&2
}

PROJECT="$WORK/project"
mkdir -p "$PROJECT"
printf 'def add(a, b):\n    return a + b\n' > "$PROJECT/calc.py"
checks() {  # the same five calls over any transport: $@ picks the server
  inspect "$@" --method tools/list
  inspect "$@" --method resources/list
  inspect "$@" --method resources/read --uri pwm://models
  inspect "$@" --method tools/call --tool-name route_task --tool-arg "task_description=Fix a typo in the README"
  inspect "$@" --method tools/call --tool-name validate_workspace --tool-arg "path=$PROJECT"
}

step "Inspector CLI over stdio, launched by the example Claude Desktop config (installed wheel on PATH)"
PATH="$WORK/pipx-venv/bin:$PATH" checks --config "$REPO/claude_desktop_config.example.json" \
  --server parallel-work-manager --cwd "$WORK" -e "PWM_ALLOWED_ROOTS=$PROJECT" -e "PWM_DB=$WORK/stdio.db"

step "Inspector CLI over streamable HTTP"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$WORK" && PWM_ALLOWED_ROOTS="$PROJECT" PWM_DB="$WORK/http.db" exec "$INSTALLED" serve --http --port "$PORT") \
  >"$WORK/http-server.log" 2>&1 &
SERVER_PID=$!
python3 - "$PORT" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0:
            sys.exit(0)
    time.sleep(0.1)
sys.exit("the HTTP server did not start within 60 s")
EOF
checks "http://127.0.0.1:$PORT/mcp" --transport http
# The official conformance scenarios that apply to what this server offers (the others call the
# reference server's own fixtures: test_image_content, test://static-text, prompts, completion).
for scenario in server-initialize ping logging-set-level tools-list tools-call-error resources-list \
                prompts-list server-sse-multiple-streams dns-rebinding-protection; do
  (cd "$WORK" && conformance server --url "http://127.0.0.1:$PORT/mcp" --scenario "$scenario" >"$WORK/conformance.log" 2>&1) \
    || { cat "$WORK/conformance.log" >&2; echo "conformance scenario $scenario failed" >&2; exit 1; }
  grep -E "^Passed: " "$WORK/conformance.log" >&2
done
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

step "MCP bundle: mcpb validate and pack"
mcpb validate manifest.json
mcpb pack . "$WORK/parallel-work-manager.mcpb" >&2
python3 -c 'import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); assert "manifest.json" in names and "pyproject.toml" in names and not any(n.startswith((".venv/", "tests/")) for n in names), names' \
  "$WORK/parallel-work-manager.mcpb"

step "uv from PyPI: uvx --from the checkout, and the unpacked bundle run as Claude Desktop runs it"
python3 -m venv "$WORK/uv-venv"
"$WORK/uv-venv/bin/pip" install -q uv 2>&1 | grep -v "is ignored" >&2 || true
export UV_CACHE_DIR="$WORK/uv-cache"
# The Inspector gives a server only a minimal environment: hand uv the CA and proxy settings.
UV_ENV=(-e "UV_CACHE_DIR=$UV_CACHE_DIR")
for var in SSL_CERT_FILE SSL_CERT_DIR HTTPS_PROXY HTTP_PROXY NO_PROXY UV_INDEX_URL UV_DEFAULT_INDEX; do
  if [ -n "${!var:-}" ]; then UV_ENV+=(-e "$var=${!var}"); fi
done
CONNECT_TIMEOUT_MS=300000 PATH="$WORK/uv-venv/bin:$PATH" inspect --cwd "$WORK" -e "PWM_DB=$WORK/uvx.db" "${UV_ENV[@]}" \
  uvx --from "$REPO" parallel-work-manager serve --method tools/list
mkdir -p "$WORK/bundle"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WORK/parallel-work-manager.mcpb" "$WORK/bundle"
# manifest.json's server.mcp_config with ${__dirname} replaced, as the host does.
mapfile -t BUNDLE_CMD < <(python3 - "$WORK/bundle" <<'EOF2'
import json, sys
config = json.load(open(f"{sys.argv[1]}/manifest.json"))["server"]["mcp_config"]
for part in [config["command"], *config["args"]]:
    print(part.replace("${__dirname}", sys.argv[1]))
EOF2
)
CONNECT_TIMEOUT_MS=300000 PATH="$WORK/uv-venv/bin:$PATH" inspect --cwd "$WORK" -e "PWM_DB=$WORK/bundle.db" "${UV_ENV[@]}" \
  "${BUNDLE_CMD[@]}" --method tools/list

step "the README's Claude Code registration, with the real claude CLI"
# The fenced block after the README's `ci: claude-code-registration` marker, run as written
# from the checkout (it names "$PWD/.venv/bin/parallel-work-manager").
python3 - "$REPO/README.md" > "$WORK/register.sh" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"<!-- ci: claude-code-registration -->\s*```bash\n(.*?)```", text, re.S)
if match is None:
    sys.exit("README: no block after <!-- ci: claude-code-registration -->")
print(match.group(1))
EOF
cat "$WORK/register.sh" >&2
grep -q "claude mcp add" "$WORK/register.sh"
if [ "$VENV" != "$REPO/.venv" ]; then echo "the README's line names \$PWD/.venv: run with the checkout's .venv" >&2; exit 1; fi
OPENROUTER_API_KEY="sk-or-v1-ci-placeholder" bash -euo pipefail "$WORK/register.sh"
listed="$(timeout 120 claude mcp list 2>&1)"
echo "$listed" >&2
echo "$listed" | grep -E "^parallel-work-manager: .*Connected" >/dev/null \
  || { echo "claude mcp list does not report parallel-work-manager Connected" >&2; exit 1; }

step "clients: all passed"
