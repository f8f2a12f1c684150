#!/usr/bin/env bash
# Try customer_segmentation in a browser, with Odoo's and the module's demo data:
#   scripts/demo.sh [DATABASE]
#
# Re-creates the database (argument, else CS_DEMO_DB, else
# customer_segmentation_demo), installs the module with demo data, then serves
# Odoo in the foreground on http://127.0.0.1:8069 (CS_DEMO_PORT to change the
# port) until Ctrl+C. Log in as admin, password admin.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

. "$(dirname "${BASH_SOURCE[0]}")/odoo.sh"
. "$REPO/scripts/pg.sh"

DB=${1:-${CS_DEMO_DB:-customer_segmentation_demo}}
PORT=${CS_DEMO_PORT:-8069}

python3 -c "
import socket, sys
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', int(sys.argv[1])))
" "$PORT" 2>/dev/null || cs_die "port $PORT is in use on 127.0.0.1: stop what uses it or set CS_DEMO_PORT"

cs_drop_database "$DB"
# With Email Marketing, so that its glue addon (auto_install) shows Send a
# Mailing on segments; CS_EXTRA_MODULES= for the module alone.
CS_EXTRA_MODULES=${CS_EXTRA_MODULES-mass_mailing}
# Odoo 18 loads demo data unless --without-demo is given.
cs_install_module "$DB"
demo=$(psql -X -A -t -d "$DB" -c "SELECT demo FROM ir_module_module WHERE name = '$CS_MODULE'")
[[ $demo == t ]] || cs_die "$CS_MODULE was installed without its demo data"

cat <<EOF

  $CS_MODULE demo is ready in database $DB.
  Open   http://127.0.0.1:$PORT/odoo
  Login  admin
  Password admin
  Stop with Ctrl+C.

EOF
exec "${ODOO[@]}" --addons-path="$ADDONS_PATH" -d "$DB" --db-filter="^$DB\$" \
    --http-interface=127.0.0.1 --http-port="$PORT" --log-level=info
