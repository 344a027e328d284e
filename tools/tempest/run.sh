#!/usr/bin/env bash
# Reproduce the Tempest API-conformance run against kumo (loopback only).
#
#   tools/tempest/run.sh                 # identity, image, compute, one after another
#   SERVICES="identity image" tools/tempest/run.sh
#   SERVICES="network" tools/tempest/run.sh   # Neutron API tests (neutron enabled only here)
#   SERVICES="compute_subset" tools/tempest/run.sh  # restricted compute regex (COMPUTE_REGEX)
#   SERVICES=network NETWORK_REGEX='tempest\.api\.network\.test_tags' tools/tempest/run.sh
#   PARALLEL=1 tools/tempest/run.sh      # run the services' suites concurrently
#
# Results: $WORK/<svc>.subunit (raw), <svc>.csv, ws-<svc>/logs/tempest.log (HTTP log).
#
# Env knobs: NEUTRON_FOR (services run with neutron = true; default network), KUMO, PORT, DRIVER (fake|qemu), VENV, WORK, TIMEOUT_<SVC>,
# KUMO_SETTINGS (`kumo up --set` NAME=VALUE pairs; the default gives Keystone's lockout
# the short figures tempest.conf's [identity] user_lockout_* describe).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KUMO="${KUMO:-$REPO/.venv/bin/kumo}"
PORT="${PORT:-18800}"
DRIVER="${DRIVER:-fake}"
VENV="${VENV:-/tmp/tempest-venv}"
WORK="${WORK:-/tmp/tempest-run}"
DATA="${DATA:-$WORK/kumo-data}"
URL="http://127.0.0.1:$PORT"
SERVICES="${SERVICES:-identity image compute}"
CONCURRENCY="${CONCURRENCY:-2}"
COMPUTE_REGEX="${COMPUTE_REGEX:-^tempest\.api\.compute\.(flavors|keypairs|servers\.test_servers|servers\.test_create_server|servers\.test_list|admin\.test_hypervisor|admin\.test_services|admin\.test_availability_zone|limits|test_versions|servers\.test_server_actions)}"
TIMEOUT_identity="${TIMEOUT_identity:-900}"
TIMEOUT_image="${TIMEOUT_image:-900}"
TIMEOUT_compute="${TIMEOUT_compute:-1200}"
TIMEOUT_compute_subset="${TIMEOUT_compute_subset:-900}"
TIMEOUT_network="${TIMEOUT_network:-1200}"
PARALLEL="${PARALLEL:-0}"
NEUTRON_FOR="${NEUTRON_FOR:-network}"  # services whose tempest.conf says neutron = true
KUMO_SETTINGS="${KUMO_SETTINGS:-lockout_failure_attempts=2 lockout_duration=10}"

mkdir -p "$WORK"

# 1. Tempest venv
if [ ! -x "$VENV/bin/tempest" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q tempest python-openstackclient
fi
"$VENV/bin/tempest" --version

# 2. kumo on loopback
rm -rf "$DATA"
SET_ARGS=()
for kv in $KUMO_SETTINGS; do SET_ARGS+=(--set "$kv"); done
"$KUMO" up --data-dir "$DATA" --listen "127.0.0.1:$PORT" --driver "$DRIVER" "${SET_ARGS[@]}" \
    >"$WORK/kumo.log" 2>&1 &
KUMO_PID=$!
cleanup() { kill "$KUMO_PID" 2>/dev/null || true; wait "$KUMO_PID" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 60); do
    grep -q "ready at" "$WORK/kumo.log" 2>/dev/null && break
    sleep 1
done
export OS_CLIENT_CONFIG_FILE="$DATA/clouds.yaml"
IMAGE_REF=""
for _ in $(seq 120); do
    IMAGE_REF="$("$VENV/bin/openstack" --os-cloud kumo image list --name kumo-tiny -f value -c ID 2>/dev/null || true)"
    [ -n "$IMAGE_REF" ] && break
    sleep 1
done
[ -n "$IMAGE_REF" ] || { echo "kumo-tiny image never appeared" >&2; exit 1; }
ADMIN_PASSWORD="$(cat "$DATA/admin-password")"
PUBLIC_NET_ID=""
for _ in $(seq 30); do  # kumo up makes the external network `public` after start
    PUBLIC_NET_ID="$("$VENV/bin/openstack" --os-cloud kumo network show public -f value -c id 2>/dev/null || true)"
    [ -n "$PUBLIC_NET_ID" ] && break
    sleep 1
done
echo "kumo at $URL, image_ref=$IMAGE_REF"

# 3+4. one tempest workspace per service so the services can run in parallel
run_service() {
    local svc="$1" regex ws
    ws="$WORK/ws-$svc"
    rm -rf "$ws"
    # tempest keeps a workspace registry (~/.tempest/workspace.yaml); re-register by name
    "$VENV/bin/tempest" workspace remove --name "kumo-$svc" >/dev/null 2>&1 || true
    "$VENV/bin/tempest" init --name "kumo-$svc" "$ws" >/dev/null
    sed -e "s#@KUMO_URL@#$URL#g" -e "s#@ADMIN_PASSWORD@#$ADMIN_PASSWORD#g" \
        -e "s#@IMAGE_REF@#$IMAGE_REF#g" -e "s#@LOG_DIR@#$ws/logs#g" \
        -e "s#@PUBLIC_NET_ID@#$PUBLIC_NET_ID#g" \
        -e "s#@NEUTRON@#$(case " $NEUTRON_FOR " in *" $svc "*) echo True ;; *) echo False ;; esac)#g" \
        "$HERE/tempest.conf.in" >"$ws/etc/tempest.conf"
    case "$svc" in
        compute_subset) regex="$COMPUTE_REGEX" ;;
        network) regex="${NETWORK_REGEX:-^tempest\.api\.network}" ;;
        *) regex="^tempest\.api\.$svc" ;;
    esac
    local tvar="TIMEOUT_$svc"
    # --subunit streams results as they arrive, so a time-boxed (killed) run
    # still leaves every finished test in $svc.subunit.
    (cd "$ws" && timeout "${!tvar}" "$VENV/bin/tempest" run --regex "$regex" \
        --concurrency "$CONCURRENCY" --subunit >"$WORK/$svc.subunit" 2>"$WORK/$svc.err") || true
    "$VENV/bin/subunit2csv" <"$WORK/$svc.subunit" >"$WORK/$svc.csv" || true
}
pids=()
for svc in $SERVICES; do
    if [ "$PARALLEL" = 1 ]; then run_service "$svc" & pids+=($!); else run_service "$svc"; fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

# 5. summary: counts + one line per failure (test :: exception :: failing requests)
for svc in $SERVICES; do
    echo "== $svc"
    "$VENV/bin/python" "$HERE/failures.py" "$WORK/$svc.subunit" "$WORK/ws-$svc/logs/tempest.log" \
        >"$WORK/$svc.failures.txt" || true
    head -n 1 "$WORK/$svc.failures.txt"
done
echo "per-test failure lines: $WORK/<svc>.failures.txt"
