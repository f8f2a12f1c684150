#!/usr/bin/env bash
# Make a local PostgreSQL server usable by Odoo and export PGHOST, PGPORT and
# PGUSER for it (Odoo, psql, createdb and dropdb all read them through libpq).
#
# Sourced by demo.sh and test.sh:   . scripts/pg.sh
# Or run on its own to get the variables in your shell:
#   eval "$(scripts/pg.sh)"      start or reuse a server, print the exports
#   scripts/pg.sh stop           stop the private cluster of case (b)
#
# Which server, in this order; running it again reuses what the last run set up:
#   1. the one the current environment already reaches (PGHOST/PGPORT/PGUSER or
#      libpq defaults), if our role there may create databases;
#   2. as root: the Debian cluster (created with pg_createcluster if missing,
#      started with pg_ctlcluster), with a superuser role named after the current
#      user, because Odoo refuses to connect as "postgres";
#   3. as anyone else: a private cluster owned by the current user under
#      ${XDG_DATA_HOME:-$HOME/.local/share}/customer_segmentation/pg<version>,
#      listening on a unix socket in that folder and on 127.0.0.1 (first free
#      port from 5433), started with pg_ctl. CS_PG_DIR overrides the folder.

_cs_pg_say() { printf 'pg.sh: %s\n' "$*" >&2; }

_cs_pg_bindir() {
    local dir
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then
        printf '%s\n' "$dir"
        return 0
    fi
    # Debian's pg_config may come from libpq-dev, not from a server package.
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4,4 -rn); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

# True when the current PG* environment reaches a server as a role that may
# create databases (what Odoo needs to create and drop its databases).
_cs_pg_usable() {
    local ok
    ok=$(PGCONNECT_TIMEOUT=5 "$CS_PG_BINDIR/psql" -X -w -A -t -q -d postgres \
        -c "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user" \
        2>/dev/null) || return 1
    [[ $ok == t ]]
}

_cs_pg_free_port() {
    python3 - "$1" <<'EOF'
import socket
import sys

for port in range(int(sys.argv[1]), 65536):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    sys.exit(1)
EOF
}

_cs_pg_port_is_free() {
    [[ $(_cs_pg_free_port "$1") == "$1" ]]
}

_cs_pg_debian_cluster() {
    local version=$1 user=$2 port sockdir
    command -v pg_ctlcluster >/dev/null || {
        _cs_pg_say "pg_ctlcluster not found: install Debian's postgresql package"
        return 1
    }
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {f = 1} END {exit !f}'; then
        _cs_pg_say "creating the Debian cluster $version/main"
        pg_createcluster "$version" main >&2 || return 1
    fi
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online" {f = 1} END {exit !f}'; then
        _cs_pg_say "starting the Debian cluster $version/main"
        pg_ctlcluster "$version" main start >&2 || return 1
    fi
    port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
    sockdir=$(sed -n "s/^[[:space:]]*unix_socket_directories[[:space:]]*=[[:space:]]*'\([^',]*\).*/\1/p" \
        "/etc/postgresql/$version/main/postgresql.conf" | tail -n 1)
    sockdir=${sockdir:-/var/run/postgresql}

    local role
    role=$(cd / && runuser -u postgres -- "$CS_PG_BINDIR/psql" -U postgres -X -A -t -q \
        -h "$sockdir" -p "$port" -d postgres \
        -c "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = '$user'") || return 1
    if [[ -z $role ]]; then
        _cs_pg_say "creating PostgreSQL role \"$user\" (superuser, createdb)"
        (cd / && runuser -u postgres -- "$CS_PG_BINDIR/createuser" -U postgres \
            -h "$sockdir" -p "$port" --superuser --createdb "$user") || return 1
    elif [[ $role != t ]]; then
        _cs_pg_say "letting PostgreSQL role \"$user\" create databases"
        (cd / && runuser -u postgres -- "$CS_PG_BINDIR/psql" -U postgres -X -q -h "$sockdir" -p "$port" \
            -d postgres -c "ALTER ROLE \"$user\" CREATEDB") || return 1
    fi
    export PGHOST=$sockdir PGPORT=$port PGUSER=$user
}

_cs_pg_private_dir() {
    local version=$1
    printf '%s\n' "${CS_PG_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/customer_segmentation/pg$version}"
}

_cs_pg_private_cluster() {
    local version=$1 user=$2 dir data port
    dir=$(_cs_pg_private_dir "$version")
    data=$dir/data
    # A unix socket path is limited to 107 bytes.
    if (( ${#dir} + 20 > 107 )); then
        _cs_pg_say "$dir is too long for a unix socket path: set CS_PG_DIR to a shorter folder"
        return 1
    fi
    if [[ ! -s $data/PG_VERSION ]]; then
        _cs_pg_say "creating a private PostgreSQL $version cluster in $dir"
        mkdir -p "$dir" && chmod 700 "$dir" || return 1
        "$CS_PG_BINDIR/initdb" -D "$data" -U "$user" -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
            _cs_pg_say "initdb failed, see $dir/initdb.log"
            return 1
        }
        port=$(_cs_pg_free_port 5433) || return 1
        cat >>"$data/postgresql.conf" <<EOF

# customer_segmentation: private development cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
EOF
    fi
    port=$(sed -n 's/^port = \([0-9][0-9]*\).*/\1/p' "$data/postgresql.conf" | tail -n 1)
    if ! "$CS_PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        if ! _cs_pg_port_is_free "$port"; then
            local old=$port
            port=$(_cs_pg_free_port 5433) || return 1
            _cs_pg_say "port $old is taken, moving the private cluster to $port"
            printf 'port = %s\n' "$port" >>"$data/postgresql.conf"
        fi
        _cs_pg_say "starting the private cluster (127.0.0.1:$port, socket in $dir)"
        "$CS_PG_BINDIR/pg_ctl" -D "$data" -l "$dir/postgresql.log" -w -t 60 start >/dev/null || {
            _cs_pg_say "pg_ctl start failed; last lines of $dir/postgresql.log:"
            tail -n 20 "$dir/postgresql.log" >&2
            return 1
        }
    fi
    export PGHOST=$dir PGPORT=$port PGUSER=$user
}

cs_pg_ensure() {
    local user version
    user=$(id -un)
    CS_PG_BINDIR=$(_cs_pg_bindir) || {
        _cs_pg_say "PostgreSQL server binaries not found (looked at pg_config --bindir and" \
            "/usr/lib/postgresql/*/bin): install PostgreSQL 15, e.g. apt-get install postgresql"
        return 1
    }
    export CS_PG_BINDIR
    case ":$PATH:" in *":$CS_PG_BINDIR:"*) ;; *) export PATH="$CS_PG_BINDIR:$PATH" ;; esac
    version=$("$CS_PG_BINDIR/pg_config" --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
    version=${version:-$(basename "$(dirname "$CS_PG_BINDIR")")}

    if [[ ${PGUSER:-$user} == postgres ]]; then
        _cs_pg_say "Odoo refuses to connect as \"postgres\": unset PGUSER or pick another role"
        return 1
    fi
    if _cs_pg_usable; then
        export PGHOST=${PGHOST:-} PGPORT=${PGPORT:-} PGUSER=${PGUSER:-$user}
        [[ -n $PGHOST ]] || unset PGHOST
        [[ -n $PGPORT ]] || unset PGPORT
        return 0
    fi
    if [[ $(id -u) == 0 ]]; then
        unset PGHOST PGPORT PGUSER
        _cs_pg_debian_cluster "$version" "$user" || return 1
    else
        _cs_pg_private_cluster "$version" "$user" || return 1
    fi
    _cs_pg_usable || {
        _cs_pg_say "the server at ${PGHOST}:${PGPORT} does not accept role $PGUSER with CREATEDB"
        return 1
    }
}

cs_pg_stop() {
    CS_PG_BINDIR=$(_cs_pg_bindir) || return 1
    local version data
    version=$("$CS_PG_BINDIR/pg_config" --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
    data=$(_cs_pg_private_dir "$version")/data
    if [[ -s $data/PG_VERSION ]]; then
        "$CS_PG_BINDIR/pg_ctl" -D "$data" -m fast stop
    else
        _cs_pg_say "no private cluster in ${data%/data}"
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    case ${1:-env} in
        env)
            cs_pg_ensure
            for var in PGHOST PGPORT PGUSER; do
                [[ -z ${!var:-} ]] || printf 'export %s=%q\n' "$var" "${!var}"
            done
            ;;
        stop) cs_pg_stop ;;
        *)
            echo "usage: $0 [env|stop]" >&2
            exit 2
            ;;
    esac
else
    cs_pg_ensure || return 1
fi
