#!/usr/bin/env bash
# Validate `nectr review --format sarif` against the SARIF 2.1.0 JSON schema.
# The schema comes from the npm registry (@microsoft/jest-sarif ships it); the validator is
# check-jsonschema from PyPI. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v check-jsonschema >/dev/null || python3 -m pip install --quiet --disable-pip-version-check check-jsonschema
(cd "$work" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf ./*.tgz)
# The published rtm.5 schema has one malformed regex (run.language: a stray `]`) that strict
# validators reject as a schema error; repair just that pattern.
sed 's/\^\[a-zA-Z\]{2}|\^\[a-zA-Z\]{2}-\[a-zA-Z\]{2}\]?\$/^[a-zA-Z]{2}(-[a-zA-Z]{2})?$/' \
  "$work/package/lib/schemas/sarif-2.1.0-rtm.5.json" > "$work/sarif-schema.json"

cargo run --quiet -- review --diff examples/pr.diff --format sarif > "$work/example.sarif"
python3 - "$work/example.sarif" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["runs"][0]["results"]
assert results, "the example should produce SARIF results to validate"
print(f"{len(results)} SARIF results")
PY
check-jsonschema --schemafile "$work/sarif-schema.json" "$work/example.sarif"
