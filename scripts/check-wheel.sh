#!/usr/bin/env bash
# golive as a team installs it: builds the sdist and, from it, the wheel; installs the wheel into a
# fresh virtualenv in a temporary directory outside the checkout; then, from directories that are
# not the checkout, runs `golive chaos list`, `golive validate --quick` of a team's backend (the
# reference source copied as `teamapp`, served by its own command: every gate must pass) and
# golive's pytest plugin inside a throwaway project (its own conftest.py, --strict-markers,
# pytest-asyncio, pytest-xdist). A file left out of the package, or a name installed outside the
# golive namespace, fails it. After ./scripts/bootstrap.sh, which brings `build`:
#   scripts/check-wheel.sh                both, in a temporary directory it removes
#   scripts/check-wheel.sh install DIR    builds and installs into DIR (a new directory)
#   scripts/check-wheel.sh check DIR      runs the checks on what `install DIR` installed
# (CI installs beside other steps: the install waits on the disk and pip, the checks on the CPU).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The fresh virtualenv's interpreter: $PYTHON, else the one .venv was made from (scripts/bootstrap.sh).
python=${PYTHON:-$("$root/.venv/bin/python" -c 'import sys; print(sys._base_executable)')}
step() { echo "== check-wheel: $*"; }
fail() { echo "check-wheel: $*" >&2; exit 1; }

phase=${1:-all}
case "$phase" in
  all)
    work=$(mktemp -d -t golive-wheel-XXXXXX)
    trap 'rm -rf "$work"' EXIT
    ;;
  install | check)
    [[ $# -eq 2 ]] || fail "usage: $0 [install DIR | check DIR]"
    work=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    ;;
  *) fail "usage: $0 [install DIR | check DIR]" ;;
esac

install_wheel() {  # (the bodies are not indented: their here-documents end at column 0)
mkdir -p "$work"
step "build the sdist, then the wheel from it"
"$root/.venv/bin/python" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; fail "python -m build failed"; }
wheel=$(ls "$work"/dist/golive-*.whl)
"$root/.venv/bin/python" - "$wheel" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
top = sorted({name.split("/")[0] for name in names})
outside = [name for name in top if name != "golive" and not name.endswith(".dist-info")]
if outside:
    sys.exit(f"check-wheel: installed outside the golive namespace: {outside}")
print(f"wheel: {len(names)} files, top level {top}")
EOF

step "install it into a fresh virtualenv outside the checkout"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip >"$work/pip.log" 2>&1
"$work/venv/bin/python" -m pip install -q "$wheel[all]" pytest-xdist >>"$work/pip.log" 2>&1 ||
  { tail -n 30 "$work/pip.log" >&2; fail "pip install of the wheel failed"; }
}

run_checks() {
[[ -x $work/venv/bin/golive ]] || fail "nothing installed in $work: run $0 install $work first"
export PATH="$work/venv/bin:$PATH"
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"

step "golive chaos list"
listed=$(golive chaos list)
echo "$listed"
grep -q "postgres-down" <<<"$listed" || fail "golive chaos list does not list the experiment library"

step "golive images: every build context can be put together from the installed package"
python - <<'EOF'
import re, shlex, tempfile
from pathlib import Path
from golive.images.catalog import BASE, CATALOG, assemble_context
for spec in CATALOG:
    if spec is BASE:
        continue
    with tempfile.TemporaryDirectory() as folder:
        context = Path(folder)
        assemble_context(spec, context)
        text = (context / spec.dockerfile).read_text().replace("\\\n", " ")
        for line in re.findall(r"^\s*(?:COPY|ADD)\s+(.*)$", text, re.MULTILINE):
            for source in [word for word in shlex.split(line) if not word.startswith("--")][:-1]:
                if source != "ca-bundle.pem" and not (context / source).exists():
                    raise SystemExit(f"check-wheel: image {spec.name}: {source} is not in its build context")
print("image contexts: every COPY source present")
EOF

# A team's backend, as `golive validate --app` meets it: the reference source the wheel installed,
# copied into a project of its own as `teamapp` under its own title, served by its own command
# (every replica an interpreter: no fork server for a team's command). Every gate must pass.
step "golive validate --quick of a team's backend served by its own command (must say GO)"
mkdir -p "$work/team"
python - "$work/team" <<'EOF'
import shutil, sys
from pathlib import Path
import golive.system_under_test as reference
package = Path(sys.argv[1]) / "teamapp"
ignored = shutil.ignore_patterns("__pycache__", "tests", "Dockerfile")
shutil.copytree(Path(reference.__file__).parent, package, ignore=ignored)
app = package / "app.py"
original = 'title="ToolboxAI backend (golive reference implementation)"'
if original not in app.read_text():
    sys.exit("check-wheel: the reference backend's title moved: update this check")
app.write_text(app.read_text().replace(original, 'title="Team backend (check-wheel)"'))
EOF
# As the backend's image serves it (its Dockerfile's CMD): without --no-proxy-headers uvicorn would
# believe X-Forwarded-For from loopback, and without the backend's HTTP protocol no header limit
# would hold; validate rightly says NO-GO to either.
team_command='exec python -m uvicorn teamapp.main:app --host $HOST --port $PORT --no-proxy-headers'
team_command+=' --http teamapp.http_limits:LimitedHttpToolsProtocol'
(cd "$work/team" && golive validate --quick --app teamapp.main:app --backend-cmd "$team_command" --run-dir "$work/run")
python - "$work/run" "$team_command" <<'EOF'
import json, sys
from pathlib import Path
run, command = Path(sys.argv[1]), sys.argv[2]
summary = json.loads((run / "summary.json").read_text())
failed = [gate["id"] for gate in summary["gates"] if gate["status"] != "pass"]
if summary["verdict"] != "GO" or failed:
    sys.exit(f"check-wheel: verdict {summary['verdict']}; gates not passed: {failed}")
environment = json.loads((run / "environment.json").read_text())
if (environment["backend"], environment["backend_command"]) != ("teamapp.main:app", command):
    sys.exit(f"check-wheel: validated {environment['backend']} by {environment['backend_command']!r}")
print(f"every gate passed ({len(summary['gates'])}): teamapp.main:app, served by its own command")
EOF

step "the pytest plugin in a throwaway project"
mkdir -p "$work/project"
cd "$work/project"
cat >pyproject.toml <<'EOF'
[tool.pytest.ini_options]
addopts = "--strict-markers -p no:cacheprovider"
asyncio_mode = "strict"
asyncio_default_fixture_loop_scope = "function"
EOF
cat >conftest.py <<'EOF'
import pytest

@pytest.fixture
def health_path() -> str:
    return "/health"
EOF
cat >test_team.py <<'EOF'
import signal

import httpx
import pytest


def test_without_golive_fixtures_nothing_is_installed():
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.external_ok
def test_the_backend_is_healthy(golive_http, health_path):
    assert golive_http.get(health_path).status_code == 200


def test_a_user_token_logs_in(golive_http, golive_user_token):
    me = golive_http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {golive_user_token}"})
    assert me.status_code == 200


@pytest.mark.asyncio
async def test_async_clients_work_beside_it(golive_sut_url):
    async with httpx.AsyncClient(base_url=golive_sut_url) as client:
        assert (await client.get("/health")).status_code == 200


def test_a_database_of_its_own(golive_database):
    assert golive_database.startswith("postgresql")


def test_generation_fails_fast_when_the_ai_service_is_down(golive_http, golive_user_token, golive_toxiproxy):
    # The README's example, as written there.
    with golive_toxiproxy.down("upstream"):
        answer = golive_http.post(
            "/api/v1/content/generate",
            json={"prompt": "x"},
            headers={"Authorization": f"Bearer {golive_user_token}"},
        )
    assert answer.status_code in (502, 503, 504)
EOF
# Whole output first: `grep -q` stops reading at its match, and pytest's SIGPIPE would fail the pipe.
help=$(pytest --help)
grep -q -- "--golive-provider" <<<"$help" || fail "pytest --help does not list --golive-* options"
pytest -q -n 2
step "passed"
}

case "$phase" in
  all)  # not `install && check`: in an && list, set -e would not stop a failing install
    install_wheel
    run_checks
    ;;
  install) install_wheel ;;
  check) run_checks ;;
esac
