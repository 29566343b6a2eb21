#!/usr/bin/env bash
# Lint the GitHub Action and the workflows: action.yml and .github/workflows/*.yml against
# SchemaStore's schemas (check-jsonschema's vendored copies, no network), then zizmor's
# offline security audits. Fails on a schema error or any zizmor finding of high severity;
# medium and low findings are printed for review. Installs both tools from PyPI if missing.
# Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@"
}
command -v check-jsonschema >/dev/null || pip_install check-jsonschema
command -v zizmor >/dev/null || pip_install zizmor

echo "== check-jsonschema: action.yml"
check-jsonschema --builtin-schema vendor.github-actions action.yml

echo "== check-jsonschema: .github/workflows/*.yml"
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# Everything zizmor finds, for the log; never fails the check by itself.
echo "== zizmor (all findings, informational)"
zizmor --offline --no-progress --color never --no-exit-codes . || true

echo "== zizmor --min-severity high (must be clean)"
zizmor --offline --no-progress --color never --min-severity high .
echo "check-workflows: ok"
