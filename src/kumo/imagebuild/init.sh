#!/bin/sh
# kumo-tiny /init (PID 1 from the initramfs): a CirrOS-like guest whose
# behaviour tests can probe.  It loads the virtio drivers, takes a DHCP lease
# on every NIC, reads OpenStack metadata, runs a "#!" user-data script, serves
# its hostname over HTTP on port 80, prints one marker line to the console and
# then hands over to busybox init (console shell, clean poweroff, ACPI button).
# Everything runs from RAM; nothing here touches a disk.

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || { mount -t tmpfs -o mode=0755 tmpfs /dev; mdev -s; }
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/kumo
exec </dev/console >/dev/console 2>&1

log() { echo "kumo-tiny: $*"; }

# Modules are listed in dependency order by the image builder.
while read -r mod; do
    [ -n "$mod" ] || continue
    insmod "/lib/modules/$mod.ko" 2>/dev/null || log "insmod $mod failed"
done </lib/modules/load-order

hostname kumo-tiny
ip link set lo up

# The udhcpc hook: applies address, MTU, routes (RFC 3442 classless static
# routes win over the router option), DNS and remembers the offered hostname.
cat >/etc/udhcpc.script <<'EOF'
#!/bin/sh
event="$1"
case "$event" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    [ "$event" = bound ] && ip -4 addr flush dev "$interface"
    ip addr replace "$ip/${mask:-24}" dev "$interface"
    if [ -n "$staticroutes" ]; then
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = 0.0.0.0 ]; then
                ip route replace "$1" dev "$interface"
            else
                ip route replace "$1" via "$2" dev "$interface"
            fi
            shift 2
        done
    elif [ -n "$router" ]; then
        set -- $router
        metric=$(cat "/sys/class/net/$interface/ifindex")
        ip route replace default via "$1" dev "$interface" metric "$metric"
    fi
    if [ -n "$dns" ]; then
        : >/etc/resolv.conf
        [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
        for ns in $dns; do echo "nameserver $ns" >>/etc/resolv.conf; done
    fi
    [ -n "$hostname" ] && echo "$hostname" >"/run/kumo/dhcp-hostname.$interface"
    echo "$ip" >"/run/kumo/ip.$interface"
    ;;
esac
exit 0
EOF
chmod 755 /etc/udhcpc.script

# DHCP on all NICs in parallel; each udhcpc forks to the background once it
# has a lease or has given up (-b), so `wait` returns after at most ~5 s.
for dev in /sys/class/net/eth*; do
    [ -e "$dev" ] || continue
    nic=${dev##*/}
    ip link set dev "$nic" up
    udhcpc -i "$nic" -b -t 5 -T 1 -A 10 -O mtu -O staticroutes \
        -s /etc/udhcpc.script -p "/run/udhcpc.$nic.pid" >/dev/null 2>&1 &
done
wait

ADDR=$(ip -4 addr show 2>/dev/null | sed -n 's/^ *inet \([0-9.]*\)\/.*/\1/p' | grep -v '^127\.' | head -n 1)
[ -n "$ADDR" ] || ADDR=none

NAME=
if [ "$ADDR" != none ]; then
    MD=http://169.254.169.254/openstack/latest
    # busybox wget -T segfaults; bound each fetch with timeout instead.
    if timeout 3 wget -q -O /run/kumo/meta_data.json "$MD/meta_data.json" 2>/dev/null; then
        tr -d '\n' </run/kumo/meta_data.json >/run/kumo/md.flat
        NAME=$(sed -n 's/.*"hostname"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' /run/kumo/md.flat)
        KEYS=$(sed -n 's/.*"public_keys"[[:space:]]*:[[:space:]]*{\([^}]*\)}.*/\1/p' /run/kumo/md.flat)
        if [ -n "$KEYS" ]; then
            mkdir -p /root/.ssh
            chmod 700 /root/.ssh
            # Quoted strings alternate key name / key; keep every second one.
            echo "$KEYS" | grep -o '"[^"]*"' | sed -n 'n;p' \
                | sed -e 's/^"//' -e 's/"$//' -e 's/\\n$//' -e 's#\\/#/#g' \
                >/root/.ssh/authorized_keys
            chmod 600 /root/.ssh/authorized_keys
        fi
    else
        rm -f /run/kumo/meta_data.json
    fi
    if timeout 3 wget -q -O /run/kumo/user_data "$MD/user_data" 2>/dev/null; then
        :
    else
        rm -f /run/kumo/user_data
    fi
fi
if [ -z "$NAME" ]; then
    for f in /run/kumo/dhcp-hostname.*; do
        [ -s "$f" ] && { NAME=$(cat "$f"); break; }
    done
fi
[ -n "$NAME" ] || NAME=kumo-tiny
hostname "$NAME"
echo "$NAME" >/etc/hostname
echo "127.0.1.1 $NAME" >>/etc/hosts

mkdir -p /var/www
echo "kumo-tiny $NAME" >/var/www/index.html
httpd -p 80 -h /var/www

# ACPI power button -> clean poweroff through busybox init.
if [ -e /proc/bus/input/devices ] && ls /dev/input/event* >/dev/null 2>&1; then
    mkdir -p /etc/acpi/PWRF
    printf '#!/bin/sh\nexec poweroff\n' >/etc/acpi/PWRF/00000080
    chmod 755 /etc/acpi/PWRF/00000080
    acpid -c /etc/acpi -l /run/acpid.log
fi

# CirrOS semantics: a user-data starting with "#!" is run once, synchronously,
# with its output on the console (background long-running work yourself).
if [ -s /run/kumo/user_data ] && [ "$(head -c 2 /run/kumo/user_data)" = '#!' ]; then
    chmod 700 /run/kumo/user_data
    /run/kumo/user_data
fi

echo "kumo-tiny booted $NAME $ADDR"

cat >/etc/inittab <<'EOF'
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
EOF
exec /sbin/init
