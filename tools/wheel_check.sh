#!/usr/bin/env bash
# Build the wheel, install it with the locked dependencies in a fresh venv outside the checkout, and use it
# as a user would: `fapiao --help`, `fapiao demo --no-serve`, `fapiao neo4j` (when Java is here: started
# until ready, then stopped), and the fast test lane run against the installed package, not the sources.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fapiao-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
rm -rf dist && "${BUILD_PYTHON:-$ROOT/.venv/bin/python}" -m pip wheel -q --no-deps -w dist . && ls dist/*.whl
"$PY" -m venv "$WORK/venv"
V="$WORK/venv/bin"
"$V/python" -m pip install -q --upgrade pip
"$V/python" -m pip install -q --require-hashes -r tools/lock/requirements.txt
"$V/python" -m pip install -q --no-deps dist/*.whl
cp -r tests "$WORK/tests"
cp -r benchmarks "$WORK/benchmarks"        # tests/benchmarks check the benchmark scripts (not shipped in the wheel)
cp pyproject.toml "$WORK/pyproject.toml"   # pytest settings and markers (no package sources come along)
cd "$WORK"
# the installed package, not a checkout, answers the imports
"$V/python" -c "import graph, workbench; assert 'site-packages' in graph.__file__, graph.__file__; print('imports from', graph.__file__)"
"$V/fapiao" --help >/dev/null
FAPIAO_STORE="embedded:$WORK/workspace" "$V/fapiao" demo --no-serve --data "$WORK/demo-data"
if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
  ( "$V/fapiao" neo4j --data "$WORK/neo4j" --port "$("$V/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" > "$WORK/neo4j.out" 2>&1 & echo $! > "$WORK/neo4j.pid" )
  for _ in $(seq 1 300); do grep -q "Neo4j is ready" "$WORK/neo4j.out" && break; sleep 1; done
  grep "Neo4j is ready" "$WORK/neo4j.out" || { cat "$WORK/neo4j.out"; exit 1; }
  kill -INT "$(cat "$WORK/neo4j.pid")"; wait "$(cat "$WORK/neo4j.pid")" 2>/dev/null || true
else
  echo "wheel-check: no java/mvn here, fapiao neo4j not tried" >&2
fi
"$V/python" -m pytest -m "not slow and not neo4j and not browser and not checkout" -p no:cacheprovider -q tests
echo "wheel-check: ok"
