#!/usr/bin/env bash
# The upgrade from the last release keeps every piece of data:
#   scripts/test_upgrade.sh
#
# Exports customer_segmentation as released in 18.0.2.0.0 (commit CS_UPGRADE_FROM,
# default 0924e03) from git, installs it and CRM with demo data into a fresh database
# (CS_TEST_DB with the suffix _upgrade), gives it data of every kind with the
# old code and records it (scripts/test_upgrade.py prepare), upgrades the
# database with the current code (-u customer_segmentation), then checks that
# everything is where the new version keeps it and that a recompute of the
# main company changes nothing (scripts/test_upgrade.py check). Fails if a
# step fails, if Odoo logs an error, or if a check fails.
# scripts/test.sh runs it after the test suite.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

. "$(dirname "${BASH_SOURCE[0]}")/odoo.sh"
. "$REPO/scripts/pg.sh"

FROM=${CS_UPGRADE_FROM:-0924e03}
FROM_VERSION=18.0.2.0.0
DB=${CS_TEST_DB:-customer_segmentation_test}_upgrade
NEW_ADDONS_PATH=$ADDONS_PATH

step() {
    printf '\n== %s (%ss)\n' "$*" "$SECONDS"
}

step "Exporting $CS_MODULE $FROM_VERSION (commit $FROM)"
git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    cs_die "$REPO is not a git checkout: the old version comes from its history"
if ! git -C "$REPO" rev-parse --verify --quiet "$FROM^{commit}" >/dev/null; then
    cs_die "commit $FROM is not in the history of $REPO (a shallow clone?" \
        "run: git fetch --unshallow)"
fi
git -C "$REPO" show "$FROM:$CS_MODULE/__manifest__.py" | grep -q "\"version\": \"$FROM_VERSION\"" ||
    cs_die "$CS_MODULE at $FROM is not version $FROM_VERSION"
old_dir=$(mktemp -d)
trap 'rm -rf "$old_dir"' EXIT
git -C "$REPO" archive "$FROM" "$CS_MODULE" | tar -x -C "$old_dir"
snapshot=$old_dir/snapshot.json

# With CRM, whose open opportunities make prospects: since 18.0.3 through the
# glue addon customer_segmentation_crm, which the upgrade must install.
step "Installing $FROM_VERSION and CRM with demo data"
cs_drop_database "$DB"
ADDONS_PATH="$ODOO_ADDONS,$old_dir" CS_EXTRA_MODULES=crm cs_install_module "$DB"
demo=$(psql -X -A -t -d "$DB" -c "SELECT demo FROM ir_module_module WHERE name = '$CS_MODULE'")
[[ $demo == t ]] || cs_die "$CS_MODULE was installed without its demo data"

step "Data of every kind, with the $FROM_VERSION code"
python3 "$REPO/scripts/test_upgrade.py" prepare -d "$DB" \
    --addons-path "$ODOO_ADDONS,$old_dir" --snapshot "$snapshot" ||
    cs_die "could not prepare the $FROM_VERSION data"

step "Upgrading $DB with the current code"
log=$old_dir/upgrade.log
if ! "${ODOO[@]}" --addons-path="$NEW_ADDONS_PATH" -d "$DB" -u "$CS_MODULE" \
    --stop-after-init --no-http --log-level=warn 2>&1 | tee "$log"; then
    cs_die "Odoo failed while upgrading $CS_MODULE (see the log above)"
fi
if grep -qE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$log"; then
    cs_die "Odoo logged errors while upgrading $CS_MODULE (see the log above)"
fi
version=$(psql -X -A -t -d "$DB" -c \
    "SELECT latest_version FROM ir_module_module WHERE name = '$CS_MODULE' AND state = 'installed'")
expected=$(python3 -c "import ast, sys; print(ast.literal_eval(open(sys.argv[1]).read())['version'])" \
    "$CS_ADDONS_DIR/$CS_MODULE/__manifest__.py")
[[ $version == "$expected" ]] || cs_die "$CS_MODULE is at version '${version:-?}' after the upgrade, not $expected"

step "Checking the data after the upgrade"
python3 "$REPO/scripts/test_upgrade.py" check -d "$DB" \
    --addons-path "$NEW_ADDONS_PATH" --snapshot "$snapshot" ||
    cs_die "the upgrade from $FROM_VERSION lost or changed data (see above)"

printf '\ntest_upgrade.sh: OK, %s upgraded from %s with its data in %ss\n' \
    "$CS_MODULE" "$FROM_VERSION" "$SECONDS"
