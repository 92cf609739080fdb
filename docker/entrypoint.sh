#!/bin/sh
# Entrypoint of the project's images: settle the vendor admin token, then exec the command.
#
# The admin token lives in one file on a named volume (VENDOR_ADMIN_TOKEN_FILE), never in an
# image or in git:
#   - the one-shot provisioner (VENDOR_ADMIN_TOKEN_PROVISION=1; in compose, vendor-train, which
#     runs before any vendor or client) writes it: the operator's VENDOR_ADMIN_TOKEN when one is
#     configured (deploy/vendor.env), else a fresh random token the first time;
#   - every other container exports VENDOR_ADMIN_TOKEN from that file unless it already has one.
# Without VENDOR_ADMIN_TOKEN_FILE this script only runs the command.
set -eu

token_file="${VENDOR_ADMIN_TOKEN_FILE:-}"

write_token() {
    # Write $1 to the token file atomically (a reader never sees half a token), mode 0600.
    umask 077
    tmp="${token_file}.tmp.$$"
    printf '%s' "$1" > "$tmp"
    mv -f "$tmp" "$token_file"
}

provision_token() {
    mkdir -p "$(dirname "$token_file")"
    if [ -n "${VENDOR_ADMIN_TOKEN:-}" ]; then
        write_token "$VENDOR_ADMIN_TOKEN"
        echo "entrypoint: admin token taken from VENDOR_ADMIN_TOKEN into $token_file" >&2
    elif [ ! -s "$token_file" ]; then
        write_token "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        echo "entrypoint: generated a random admin token into $token_file" >&2
    fi
}

if [ -n "$token_file" ]; then
    if [ "${VENDOR_ADMIN_TOKEN_PROVISION:-0}" = "1" ]; then
        provision_token
    fi
    if [ -z "${VENDOR_ADMIN_TOKEN:-}" ]; then
        if [ ! -s "$token_file" ]; then
            echo "entrypoint: $token_file is missing or empty; the provisioning step" \
                 "(vendor-train in compose) must run first" >&2
            exit 64
        fi
        VENDOR_ADMIN_TOKEN="$(cat "$token_file")"
        export VENDOR_ADMIN_TOKEN
    fi
fi

exec "$@"
