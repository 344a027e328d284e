#!/usr/bin/env bash
# designate-tempest-plugin's API tests against kumo's Designate face (loopback only).
#
#   tools/tempest/run_dns.sh            # all of designate_tempest_plugin.tests.api.v2
#   REGEX='...test_zones' tools/tempest/run_dns.sh
#
# Uses tempest.conf.in plus [dns]/[dns_feature_enabled]; kumo up --driver fake (Knot runs
# as the secondary when installed, so zones really turn ACTIVE). Results: $WORK/dns.subunit,
# dns.csv, dns.failures.txt.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KUMO="${KUMO:-$REPO/.venv/bin/kumo}"
VENV="${VENV:-/tmp/tempest-venv-dns}"
WORK="${WORK:-/tmp/tempest-dns}"
PORT="${PORT:-18951}"
REGEX="${REGEX:-^designate_tempest_plugin\.tests\.api\.v2}"
if [ ! -x "$VENV/bin/tempest" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q tempest designate-tempest-plugin
fi
rm -rf "$WORK/kumo-data" "$WORK/ws"; mkdir -p "$WORK/ws"
"$KUMO" up --data-dir "$WORK/kumo-data" --listen "127.0.0.1:$PORT" --driver fake \
    --net-driver fake --no-image >"$WORK/kumo.log" 2>&1 &
KP=$!
trap 'kill $KP 2>/dev/null; wait $KP 2>/dev/null' EXIT
for _ in $(seq 60); do grep -q "ready at" "$WORK/kumo.log" && break; sleep 1; done
PW="$(cat "$WORK/kumo-data/admin-password")"
"$VENV/bin/tempest" workspace remove --name kumo-dns >/dev/null 2>&1 || true
"$VENV/bin/tempest" init --name kumo-dns "$WORK/ws" >/dev/null
sed -e "s#@KUMO_URL@#http://127.0.0.1:$PORT#g" -e "s#@ADMIN_PASSWORD@#$PW#g" \
    -e "s#@IMAGE_REF@#none#g" -e "s#@LOG_DIR@#$WORK/ws/logs#g" -e "s#@NEUTRON@#False#g" \
    "$HERE/tempest.conf.in" >"$WORK/ws/etc/tempest.conf"
sed -i 's/^\[service_available\]/[service_available]\ndesignate = True/' "$WORK/ws/etc/tempest.conf"
cat >>"$WORK/ws/etc/tempest.conf" <<CONF

[dns]
build_timeout = 60
build_interval = 1

[dns_feature_enabled]
api_v2 = True
api_admin = True
api_v2_root_recordsets = True
api_v2_quotas = True
CONF
(cd "$WORK/ws" && timeout "${TIMEOUT:-1500}" "$VENV/bin/tempest" run --regex "$REGEX" \
    --concurrency 2 --subunit >"$WORK/dns.subunit" 2>"$WORK/dns.err") || true
"$VENV/bin/subunit2csv" <"$WORK/dns.subunit" >"$WORK/dns.csv" || true
"$VENV/bin/python" "$HERE/failures.py" "$WORK/dns.subunit" "$WORK/ws/logs/tempest.log" \
    >"$WORK/dns.failures.txt" || true
head -n 1 "$WORK/dns.failures.txt"
