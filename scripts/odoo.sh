#!/usr/bin/env bash
# Shared by demo.sh and test.sh (sourced after "set -euo pipefail"):
# checks that Odoo 18 is importable and sets
#   REPO          the repository root (an addons folder: it holds customer_segmentation/)
#   CS_MODULE     the module to install, customer_segmentation unless set
#   CS_ADDONS_DIR the folder holding CS_MODULE, REPO unless set
#   ADDONS_PATH   Odoo's own addons folders followed by CS_ADDONS_DIR
#   ODOO          the command that runs Odoo: python3 -m odoo
# and exports TZ=UTC, as odoo-bin does: Odoo expects its server clock in UTC.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CS_MODULE=${CS_MODULE:-customer_segmentation}
CS_ADDONS_DIR=$(cd "${CS_ADDONS_DIR:-$REPO}" && pwd)
export TZ=UTC

cs_die() {
    printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

_cs_odoo_series=$(python3 -c "import odoo.release; print(odoo.release.serie)" 2>/dev/null) || cs_die \
    "python3 cannot import odoo. Odoo 18.0 Community must be installed for this python3" \
    "(see README.md, Prerequisites)."
[[ $_cs_odoo_series == 18.0 ]] || cs_die "python3 imports Odoo $_cs_odoo_series; this module needs Odoo 18.0."
[[ -f $CS_ADDONS_DIR/$CS_MODULE/__manifest__.py ]] || cs_die "no module $CS_MODULE in $CS_ADDONS_DIR"

# Odoo's own addons: the odoo/addons package folder, plus the addons/ folder next
# to the odoo package in a source checkout (where web, sale, contacts... live).
ODOO_ADDONS=$(python3 - <<'EOF'
import os

import odoo
import odoo.addons


def is_addons_dir(path):
    return os.path.isdir(path) and any(
        os.path.isfile(os.path.join(path, name, "__manifest__.py"))
        for name in os.listdir(path)
    )


root = os.path.dirname(os.path.dirname(os.path.abspath(odoo.__file__)))
candidates = [*odoo.addons.__path__, os.path.join(root, "addons")]
paths = dict.fromkeys(os.path.abspath(p) for p in candidates if is_addons_dir(p))
print(",".join(paths))
EOF
)
ADDONS_PATH="$ODOO_ADDONS,$CS_ADDONS_DIR"
ODOO=(python3 -m odoo)

# The addons of the repository: the core module and its glue addons
# (customer_segmentation_<app>), one name a line.
cs_addons() {
    local dir
    for dir in "$CS_ADDONS_DIR"/"$CS_MODULE" "$CS_ADDONS_DIR"/"$CS_MODULE"_*; do
        [[ -f $dir/__manifest__.py ]] && basename "$dir"
    done
}

# Drop a database and its filestore, so the next install starts from nothing.
cs_drop_database() {
    local db=$1 filestore
    PGOPTIONS=--client-min-messages=warning dropdb --if-exists "$db"
    filestore=$(python3 -c "
import sys
import odoo
odoo.tools.config.parse_config([])
print(odoo.tools.config.filestore(sys.argv[1]))
" "$db")
    rm -rf -- "$filestore"
}

# Install CS_MODULE (and the comma-separated CS_EXTRA_MODULES, if set) into a
# fresh database; extra arguments go to Odoo
# (e.g. --without-demo=all). Fails if Odoo logs an ERROR or CRITICAL line or
# if the module does not end up installed.
cs_install_module() {
    local db=$1 log state
    shift
    log=$(mktemp)
    echo "Installing $CS_MODULE${CS_EXTRA_MODULES:+ (with $CS_EXTRA_MODULES)} into database $db ..."
    if ! "${ODOO[@]}" --addons-path="$ADDONS_PATH" -d "$db" \
        -i "$CS_MODULE${CS_EXTRA_MODULES:+,$CS_EXTRA_MODULES}" \
        --stop-after-init --no-http --log-level=warn "$@" 2>&1 | tee "$log"; then
        rm -f "$log"
        cs_die "Odoo failed while installing $CS_MODULE (see the log above)"
    fi
    if grep -qE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$log"; then
        rm -f "$log"
        cs_die "Odoo logged errors while installing $CS_MODULE (see the log above)"
    fi
    rm -f "$log"
    state=$(psql -X -A -t -d "$db" -c "SELECT state FROM ir_module_module WHERE name = '$CS_MODULE'")
    [[ $state == installed ]] || cs_die "$CS_MODULE is '${state:-absent}' in $db, not installed"
}
