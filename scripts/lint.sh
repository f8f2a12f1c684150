#!/usr/bin/env bash
# Run every linter the way CI does; exits non-zero on any finding:
#   scripts/lint.sh              lint every addon of the repository (customer_segmentation
#                                and its glue addons customer_segmentation_*) and its Python
# ruff (lint + format check) with pyproject.toml, pylint-odoo's mandatory checks
# with .pylintrc, OCA's XML/manifest/PO checks (oca-odoo-pre-commit-hooks), then
# the packaging: each addon's README.rst and static/description/index.html as
# scripts/gen_readme.py generates them from readme/, and its odoo-addon-* wheel
# as whool builds it (scripts/build_wheels.py --check).
# Install the tools with: pip install -r requirements-dev.txt
# To fix what ruff can fix: ruff check --fix . && ruff format .
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=${CS_MODULE:-customer_segmentation}
ADDONS_DIR=$(cd "${CS_ADDONS_DIR:-$REPO}" && pwd)
MODULE_DIR=$ADDONS_DIR/$MODULE

for tool in ruff pylint oca-checks-odoo-module oca-checks-po; do
    command -v "$tool" >/dev/null || {
        echo "lint.sh: error: $tool not found; run: pip install -r requirements-dev.txt" >&2
        exit 1
    }
done
for pymodule in whool pypandoc; do
    python3 -c "import $pymodule" 2>/dev/null || {
        echo "lint.sh: error: Python module $pymodule not found; run: pip install -r requirements-dev.txt" >&2
        exit 1
    }
done
[[ -f $MODULE_DIR/__manifest__.py ]] || {
    echo "lint.sh: error: no module $MODULE in $ADDONS_DIR" >&2
    exit 1
}
addons=()
for dir in "$ADDONS_DIR/$MODULE" "$ADDONS_DIR/$MODULE"_*; do
    [[ -f $dir/__manifest__.py ]] && addons+=("$(basename "$dir")")
done

failed=()
run() {
    local name=$1
    shift
    echo "== $name"
    if "$@"; then
        echo "   ok"
    else
        failed+=("$name")
    fi
}

# From the addons folder, so that findings name paths like customer_segmentation/...
cd "$ADDONS_DIR" || exit 1
ruff_targets=("$REPO")
[[ $ADDONS_DIR == "$REPO" ]] || ruff_targets+=("${addons[@]}")
run "ruff check" ruff check --config "$REPO/pyproject.toml" --no-fix "${ruff_targets[@]}"
run "ruff format --check" ruff format --config "$REPO/pyproject.toml" --check "${ruff_targets[@]}"
run "pylint-odoo (.pylintrc)" pylint --rcfile="$REPO/.pylintrc" --load-plugins=pylint_odoo "${addons[@]}"
run "oca-checks-odoo-module" oca-checks-odoo-module "${addons[@]}"
mapfile -t po_files < <(find "${addons[@]}" -path '*/i18n*/*' \( -name '*.po' -o -name '*.pot' \) | sort)
if ((${#po_files[@]})); then
    run "oca-checks-po" oca-checks-po --disable=po-pretty-format "${po_files[@]}"
fi
run "README.rst and index.html up to date (scripts/gen_readme.py --check)" \
    python3 "$REPO/scripts/gen_readme.py" --check "${addons[@]}"
run "odoo-addon wheels (scripts/build_wheels.py --check)" \
    python3 "$REPO/scripts/build_wheels.py" --check "${addons[@]}"

if ((${#failed[@]})); then
    joined=$(printf '%s, ' "${failed[@]}")
    echo "lint.sh: FAILED: ${joined%, }" >&2
    exit 1
fi
echo "lint.sh: all linters passed"
