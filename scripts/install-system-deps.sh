#!/usr/bin/env sh
# Debian packages myagent needs: python3-venv (`python3 -m venv` on stock Debian), chromium (browser
# tests), nodejs/npm (the guide's Node client), fonts-noto-cjk (Chinese text in the console and in
# screenshots renders as boxes without a CJK font), redis-server and nginx-light (the multi-node tests start
# their own on free ports; nothing is enabled as a system service by us).
#
#   sh scripts/install-system-deps.sh        everything above
#   sh scripts/install-system-deps.sh venv   only what `python3 -m venv` needs (used by `make run`)
#
# Installs only what is missing; needs root or sudo the first time. When another apt or dpkg holds
# the package lock (unattended-upgrades on a fresh machine, a second terminal), it waits and retries,
# up to MYAGENT_APT_LOCK_ATTEMPTS times (default 60) every MYAGENT_APT_LOCK_DELAY seconds (default 5).
set -eu

attempts=${MYAGENT_APT_LOCK_ATTEMPTS:-60}
delay=${MYAGENT_APT_LOCK_DELAY:-5}

has_cjk_font() {
  if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; then return 0; fi
  dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed"
}

missing=""
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$missing python3-venv"
if [ "${1:-all}" != venv ]; then
  [ -x /usr/bin/chromium ] || missing="$missing chromium"
  command -v node >/dev/null 2>&1 || missing="$missing nodejs"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
  has_cjk_font || missing="$missing fonts-noto-cjk"
  command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$missing redis-server"
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-system-deps: need root to install:$missing" >&2; exit 1
fi

# Run an apt-get command; while it fails because another process holds the apt/dpkg lock, wait and
# run it again (bounded). Any other failure is reported at once.
apt_get() {
  log=$(mktemp)
  try=1
  while :; do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=0 "$@" >"$log" 2>&1; then
      rm -f "$log"; return 0
    fi
    if ! grep -Eqi "could not get lock|unable to acquire|unable to lock|is held by process" "$log"; then
      cat "$log" >&2; rm -f "$log"; return 1
    fi
    if [ "$try" -ge "$attempts" ]; then
      echo "install-system-deps: the apt/dpkg lock is still held after $attempts attempts:" >&2
      cat "$log" >&2; rm -f "$log"; return 1
    fi
    echo "install-system-deps: another apt or dpkg holds the package lock; waiting ${delay}s (attempt $try of $attempts)" >&2
    try=$((try + 1))
    sleep "$delay"
  done
}

echo "install-system-deps: installing$missing"
apt_get update -qq
# shellcheck disable=SC2086  # $missing is a list of package names
apt_get install -y -qq --no-install-recommends $missing
