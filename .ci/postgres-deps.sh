#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the SQL label store tests (tests/test_store_sql.py), idempotently.
#
# Only the binaries: no cluster is created and no service is started here; each test run starts its own server
# with initdb / pg_ctl in a temp folder on a Unix socket and stops it afterwards. This script always exits 0;
# when the package cannot be installed (no root, no apt, no network) it says why, and the PostgreSQL tests then
# skip with that reason.
set -u

found_pg_ctl() {
    command -v pg_ctl >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null 2>&1
}

if found_pg_ctl; then
    echo "postgres-deps: PostgreSQL server binaries are already installed."
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "postgres-deps: apt-get is not available; install PostgreSQL by hand to run the PostgreSQL tests." >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "postgres-deps: not root and no password-less sudo; cannot install postgresql (its tests will skip)." >&2
        exit 0
    fi
fi

echo "postgres-deps: installing Debian's postgresql with apt-get ..."
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 keeps the package from starting a system-wide server: the tests start their own.
POLICY=/usr/sbin/policy-rc.d
MADE_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod +x "$POLICY" && MADE_POLICY=1
fi
if $SUDO apt-get update -qq >/dev/null \
    && $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null; then
    if found_pg_ctl; then
        echo "postgres-deps: installed $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)."
    else
        echo "postgres-deps: apt-get succeeded but pg_ctl is missing; the PostgreSQL tests will skip." >&2
    fi
else
    echo "postgres-deps: apt-get could not install postgresql (offline mirror?); the PostgreSQL tests will skip." >&2
fi
[ "$MADE_POLICY" = 1 ] && $SUDO rm -f "$POLICY"
exit 0
