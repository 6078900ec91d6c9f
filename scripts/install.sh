#!/usr/bin/env bash
# Install or upgrade the Securegate gate agent on a Raspberry Pi OS (bookworm, Pi 4/5) or
# Jetson Linux gate, from a clone of this repository. docs/operations.md walks through it.
#
#   sudo scripts/install.sh [--platform raspberry-pi|jetson] [--models DIR|ZIP|URL]
#                           [--central-key FILE] [--broker-ca FILE] [--no-build] [--no-start]
#                           [--root DIR]
#   sudo scripts/install.sh --rollback
#
# What it does, each step only when needed (a second run changes nothing, and says so):
#   1. checks Node >= 20, npm, the build tools and the programs the agent drives;
#   2. builds the TypeScript in this clone (npm run build) and packs it (npm pack);
#   3. installs the packed agent with its own production node_modules to
#      /opt/gate-agent/releases/<version>-<build>, points /opt/gate-agent/current at it
#      (the previous release stays for --rollback) and links /usr/local/bin/gate-agent;
#   4. creates the gate-agent system user (groups video, gpio) and a udev rule giving the
#      gpio group /dev/gpiochip*;
#   5. creates /etc/gate-agent (config copied from config/<platform>.yaml unless one exists,
#      store.key generated, central key and broker CA copied when given), root-owned and
#      readable by the gate-agent group only, and /var/lib/gate-agent owned by gate-agent;
#   6. installs the models the config needs (`gate-agent models pull`) unless they verify;
#   7. installs and enables the systemd unit, (re)starts the service when something changed;
#   8. ends with `gate-agent doctor`, run as the service user.
#
# --root DIR installs into the Debian root at DIR instead of / (a chroot with Node in it:
# the test suite uses this); users, groups and `systemctl enable` act inside DIR, and
# the native modules built in this clone must suit DIR's Node (checked).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=/
PLATFORM=
MODELS_FROM=
CENTRAL_KEY=
BROKER_CA=
BUILD=1
START=1
ROLLBACK=0

APP=/opt/gate-agent
ETC=/etc/gate-agent
VAR=/var/lib/gate-agent
BIN=/usr/local/bin/gate-agent
UNIT=/etc/systemd/system/gate-agent.service
UDEV_RULE=/etc/udev/rules.d/60-gate-agent-gpio.rules
SVC_USER=gate-agent

CHANGES=0
say() { printf 'install.sh: %s\n' "$*"; }
changed() { CHANGES=$((CHANGES + 1)); say "changed: $*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --platform) PLATFORM=${2:?--platform needs raspberry-pi or jetson}; shift 2 ;;
    --models) MODELS_FROM=${2:?--models needs a folder, zip file or URL}; shift 2 ;;
    --central-key) CENTRAL_KEY=${2:?--central-key needs a file}; shift 2 ;;
    --broker-ca) BROKER_CA=${2:?--broker-ca needs a file}; shift 2 ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-start) START=0; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1; see scripts/install.sh --help" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run it as root: sudo $0 $*"
[ -d "$ROOT" ] || die "--root $ROOT is not a directory"
ROOT=$(cd "$ROOT" && pwd)
R() { printf '%s%s' "${ROOT%/}" "$1"; }
# A command inside the target system (chroot when --root is not /).
inroot() { if [ "$ROOT" = / ]; then "$@"; else chroot "$ROOT" "$@"; fi; }
# The gate-agent CLI as the service user, with a clean environment (no GATE_AGENT_* of root's).
asagent() { inroot env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$VAR" LANG=C.UTF-8 runuser -u "$SVC_USER" -- "$@"; }
booted() { [ "$ROOT" = / ] && [ -d /run/systemd/system ]; }

# ---- files, each changed only when it differs -------------------------------------------

# ensure_perms PATH MODE UID GID
ensure_perms() {
  local now
  now=$(stat -c '%a %u %g' "$1")
  if [ "$now" != "$2 $3 $4" ]; then
    chown "$3:$4" "$1"
    chmod "$2" "$1"
    changed "$(printf '%s: mode %s owner %s:%s (was %s)' "${1#"${ROOT%/}"}" "$2" "$3" "$4" "$now")"
  fi
}
ensure_dir() {
  if [ ! -d "$1" ]; then
    mkdir -p "$1" && chown "$3:$4" "$1" && chmod "$2" "$1"
    changed "created ${1#"${ROOT%/}"} (mode $2, owner $3:$4)"
  fi
  ensure_perms "$@"
}
# ensure_file SOURCE DEST MODE UID GID
ensure_file() {
  if [ ! -f "$2" ] || ! cmp -s "$1" "$2"; then
    local tmp="$2.install-tmp"
    cp "$1" "$tmp" && chmod "$3" "$tmp" && chown "$4:$5" "$tmp" && mv -f "$tmp" "$2"
    changed "installed ${2#"${ROOT%/}"}"
  fi
  ensure_perms "$2" "$3" "$4" "$5"
}
ensure_link() {
  if [ "$(readlink "$2" 2>/dev/null)" != "$1" ]; then
    ln -sfn "$1" "$2.install-tmp" && mv -Tf "$2.install-tmp" "$2"
    changed "${2#"${ROOT%/}"} -> $1"
  fi
}

# ---- rollback ------------------------------------------------------------------------

restart_service() {
  if booted && [ "$START" = 1 ]; then
    systemctl restart gate-agent.service
    say "restarted gate-agent.service"
  fi
}

if [ "$ROLLBACK" = 1 ]; then
  prev=$(readlink "$(R $APP/previous)" 2>/dev/null) || die "no previous release in $APP to roll back to"
  cur=$(readlink "$(R $APP/current)")
  [ -d "$(R $APP)/$prev" ] || die "the previous release $APP/$prev is gone"
  ensure_link "$prev" "$(R $APP/current)"
  ensure_link "$cur" "$(R $APP/previous)"
  restart_service
  say "rolled back from ${cur#releases/} to ${prev#releases/}."
  say "If the newer release changed the database schema, the older one refuses to open it and names the backup to restore: see docs/operations.md, Rollback."
  exit 0
fi

# ---- 1. prerequisites ------------------------------------------------------------------

NODE_HOWTO='install Node.js 20 (or 22) from NodeSource: curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash - && sudo apt-get install -y nodejs (Debian bookworm'"'"'s own nodejs is 18, too old)'
command -v node >/dev/null || die "node is not installed; $NODE_HOWTO"
command -v npm >/dev/null || die "npm is not installed; $NODE_HOWTO"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "node $(node -v) is too old (need >= 20); $NODE_HOWTO"
missing=()
for tool in make g++ python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} = 0 ] || die "build tools missing (${missing[*]}), needed for the native modules (better-sqlite3, epoll): sudo apt-get install -y build-essential python3"
missing=()
for tool in ffmpeg:ffmpeg gpioset:gpiod openssl:openssl systemctl:systemd runuser:util-linux; do
  inroot sh -c "command -v ${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
[ ${#missing[@]} = 0 ] || die "programs the agent drives are missing: sudo apt-get install -y ${missing[*]}"
node_in_root=$(inroot sh -c 'readlink -f "$(command -v node)"' 2>/dev/null) || die "node is not installed in $ROOT; $NODE_HOWTO"
case "$node_in_root" in
  /home/* | /root/*) die "node is at $node_in_root, which the service cannot see (ProtectHome=yes); $NODE_HOWTO" ;;
esac
abi_here=$(node -p 'process.platform + "-" + process.arch + "-abi" + process.versions.modules')
abi_root=$(inroot node -p 'process.platform + "-" + process.arch + "-abi" + process.versions.modules')
[ "$abi_here" = "$abi_root" ] || die "this clone's native modules are built for $abi_here, the target runs $abi_root; run the installer on the gate itself"

if [ -z "$PLATFORM" ]; then
  model=$(tr -d '\0' <"$(R /proc/device-tree/model)" 2>/dev/null || true)
  if [[ "$model" == *"Raspberry Pi"* ]]; then PLATFORM=raspberry-pi
  elif [[ "$model" == *Jetson* ]] || [ -f "$(R /etc/nv_tegra_release)" ]; then PLATFORM=jetson
  else die "cannot tell the board (device-tree model: '${model:-none}'); give --platform raspberry-pi or --platform jetson"
  fi
fi
[ -f "$SRC/config/$PLATFORM.yaml" ] || die "--platform $PLATFORM: no config/$PLATFORM.yaml; use raspberry-pi or jetson"

# ---- 2. build and pack in the clone (as the clone's owner, so no root-owned files there) --

SRC_USER=$(stat -c %U "$SRC")
assrc() { if [ "$SRC_USER" = root ]; then "$@"; else runuser -u "$SRC_USER" -- "$@"; fi; }
if [ ! -d "$SRC/node_modules" ]; then
  say "installing the build dependencies in $SRC (npm ci)"
  (cd "$SRC" && assrc npm ci --no-audit --no-fund)
fi
if [ "$BUILD" = 1 ]; then
  say "building in $SRC (npm run build)"
  (cd "$SRC" && assrc npm run build --silent)
fi
[ -f "$SRC/dist/src/cli/main.js" ] || die "$SRC/dist is missing; run without --no-build"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
chown "$SRC_USER" "$WORK"
tarball=$(cd "$SRC" && assrc npm pack --ignore-scripts --silent --pack-destination "$WORK" | tail -n 1)
VERSION=$(node -p "require('$SRC/package.json').version")
BUILD_ID=$(cat "$WORK/$tarball" "$SRC/package-lock.json" | sha256sum | cut -c1-12)
RELEASE="releases/$VERSION-$BUILD_ID"

# ---- 3. the agent in /opt --------------------------------------------------------------

ensure_dir "$(R $APP)" 755 0 0
ensure_dir "$(R $APP/releases)" 755 0 0
current=$(readlink "$(R $APP/current)" 2>/dev/null || true)
if [ -d "$(R $APP)/$RELEASE" ]; then
  [ "$current" = "$RELEASE" ] && say "gate-agent $VERSION (build $BUILD_ID) is already installed"
else
  say "installing gate-agent $VERSION (build $BUILD_ID) to $APP/$RELEASE"
  stage="$(R $APP/releases)/.staging-$VERSION-$BUILD_ID"
  rm -rf "$stage"
  mkdir -p "$stage"
  # -m: files get the install time (doctor's clock check compares with it), not npm's 1985.
  tar -xzmf "$WORK/$tarball" -C "$stage" --strip-components=1 --no-same-owner
  cp "$SRC/package-lock.json" "$stage/"
  # The installed copy never compiles TypeScript: no prepare step, no dev dependencies.
  (cd "$stage" && npm pkg delete scripts.prepare)
  # The clone's node_modules hold native modules built for this device; copy and prune
  # them rather than fetch and compile everything a second time.
  cp -a "$SRC/node_modules/." "$stage/node_modules/"
  (cd "$stage" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  arch=$(node -p process.arch)
  for d in "$stage"/node_modules/onnxruntime-node/bin/napi-v*/*; do
    [ "$(basename "$d")" = linux ] || rm -rf "$d"
  done
  for d in "$stage"/node_modules/onnxruntime-node/bin/napi-v*/linux/*; do
    [ "$(basename "$d")" = "$arch" ] || rm -rf "$d"
  done
  chown -R 0:0 "$stage"
  chmod -R go-w "$stage"
  [ -f "$stage/node_modules/better-sqlite3/package.json" ] || die "the production node_modules are incomplete in $stage"
  mv "$stage" "$(R $APP)/$RELEASE"
  changed "installed $APP/$RELEASE"
  got=$(inroot node "$APP/$RELEASE/bin/gate-agent.js" --version) || die "the new release does not start: node $APP/$RELEASE/bin/gate-agent.js --version failed"
  [ "$got" = "$VERSION" ] || die "the new release says version $got, expected $VERSION"
fi

# ---- 4. user, groups, udev -------------------------------------------------------------

for g in video gpio; do
  if ! inroot getent group "$g" >/dev/null; then inroot groupadd --system "$g"; changed "created group $g"; fi
done
if ! inroot getent passwd "$SVC_USER" >/dev/null; then
  inroot useradd --system --user-group --home-dir "$VAR" --no-create-home --shell /usr/sbin/nologin --comment 'Securegate gate agent' "$SVC_USER"
  changed "created system user $SVC_USER"
fi
groups_now=" $(inroot id -nG "$SVC_USER") "
for g in video gpio; do
  if [[ "$groups_now" != *" $g "* ]]; then inroot usermod -aG "$g" "$SVC_USER"; changed "added $SVC_USER to group $g"; fi
done
SVC_UID=$(inroot id -u "$SVC_USER")
SVC_GID=$(inroot id -g "$SVC_USER")

printf '%s\n' '# Installed by gate-agent scripts/install.sh: the gpio group drives the GPIO chips (relay, door contact, exit button).' \
  'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' >"$WORK/udev.rules"
udev_before=$CHANGES
mkdir -p "$(R /etc/udev/rules.d)"
ensure_file "$WORK/udev.rules" "$(R $UDEV_RULE)" 644 0 0
if [ "$CHANGES" != "$udev_before" ] && [ "$ROOT" = / ] && [ -e /run/udev/control ]; then
  udevadm control --reload-rules && udevadm trigger --subsystem-match=gpio
fi

# ---- 5. config, keys, state ------------------------------------------------------------

ensure_dir "$(R $ETC)" 750 0 "$SVC_GID"
if [ ! -f "$(R $ETC/config.yaml)" ]; then
  ensure_file "$(R $APP)/$RELEASE/config/$PLATFORM.yaml" "$(R $ETC/config.yaml)" 640 0 "$SVC_GID"
  say "wrote $ETC/config.yaml from config/$PLATFORM.yaml: set gateId, mqtt and sync for this site (gate-agent config validate checks it)"
else
  say "keeping the existing $ETC/config.yaml"
  ensure_perms "$(R $ETC/config.yaml)" 640 0 "$SVC_GID"
fi
ensure_dir "$(R $VAR)" 750 "$SVC_UID" "$SVC_GID"
# Read what the config references with the new release, as the service would.
cfg_json=$(asagent node "$APP/$RELEASE/bin/gate-agent.js" config show --effective --json --config "$ETC/config.yaml") ||
  die "$ETC/config.yaml is not valid; fix it (gate-agent config validate --config $ETC/config.yaml) and run the installer again"
cfg() { node -e 'const c = JSON.parse(process.argv[1]); const v = c.values.find((x) => x.path === process.argv[2]); process.stdout.write(v && v.value !== null ? String(v.value) : "")' "$cfg_json" "$1"; }
DATA_DIR=$(cfg dataDir)
MODELS_DIR=$(cfg models.dir)
STORE_KEY=$(cfg store.keyFile)
API_KEY_FILE=$(cfg sync.apiKeyFile)
SYNC_URL=$(cfg sync.baseUrl)
CA_FILE=$(cfg mqtt.caFile)
[ -n "$DATA_DIR" ] && [ "$DATA_DIR" != "$VAR" ] && ensure_dir "$(R "$DATA_DIR")" 750 "$SVC_UID" "$SVC_GID"

if [ -n "$STORE_KEY" ] && [ ! -f "$(R "$STORE_KEY")" ]; then
  (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex") + "\n")' >"$(R "$STORE_KEY")")
  changed "generated the store key $STORE_KEY (keep a copy off the gate: backups of the database need it)"
fi
[ -n "$STORE_KEY" ] && ensure_perms "$(R "$STORE_KEY")" 640 0 "$SVC_GID"
if [ -n "$CENTRAL_KEY" ]; then
  [ -n "$API_KEY_FILE" ] || die "--central-key given, but the config has no sync.apiKeyFile; set it (e.g. $ETC/central.key)"
  ensure_file "$CENTRAL_KEY" "$(R "$API_KEY_FILE")" 640 0 "$SVC_GID"
elif [ -n "$API_KEY_FILE" ] && [ ! -f "$(R "$API_KEY_FILE")" ]; then
  say "WARNING: sync.apiKeyFile $API_KEY_FILE is missing: put the key the central server issued there (run again with --central-key FILE)"
fi
[ -n "$API_KEY_FILE" ] && [ -f "$(R "$API_KEY_FILE")" ] && ensure_perms "$(R "$API_KEY_FILE")" 640 0 "$SVC_GID"
if [ -n "$BROKER_CA" ]; then
  [ -n "$CA_FILE" ] || die "--broker-ca given, but the config has no mqtt.caFile; set it (e.g. $ETC/broker-ca.pem)"
  ensure_file "$BROKER_CA" "$(R "$CA_FILE")" 644 0 0
elif [ -n "$CA_FILE" ] && [ ! -f "$(R "$CA_FILE")" ]; then
  say "WARNING: mqtt.caFile $CA_FILE is missing: copy the broker's CA certificate there (run again with --broker-ca FILE)"
fi
[ -z "$SYNC_URL" ] || [[ "$SYNC_URL" != *.example* ]] || say "WARNING: sync.baseUrl is still the example ($SYNC_URL); set this site's central server"

# ---- 3b. switch to the new release (a backup of the database first) ---------------------

if [ "$current" != "$RELEASE" ]; then
  db="${DATA_DIR:-$VAR}/gate-agent.db"
  if [ -n "$current" ] && [ -f "$(R "$db")" ]; then
    backup="${DATA_DIR:-$VAR}/backups/before-$VERSION-$BUILD_ID.db"
    asagent node "$APP/$RELEASE/bin/gate-agent.js" store backup --config "$ETC/config.yaml" "$backup" ||
      die "could not back up the database before the upgrade; nothing was switched"
    changed "backed up the database to $backup"
  fi
  [ -n "$current" ] && ensure_link "$current" "$(R $APP/previous)"
  ensure_link "$RELEASE" "$(R $APP/current)"
  # Keep the current and the previous release only.
  keep_prev=$(readlink "$(R $APP/previous)" 2>/dev/null || true)
  for d in "$(R $APP/releases)"/*; do
    rel="releases/$(basename "$d")"
    if [ "$rel" != "$RELEASE" ] && [ "$rel" != "$keep_prev" ]; then rm -rf "$d"; changed "removed the old release $APP/$rel"; fi
  done
fi
mkdir -p "$(R /usr/local/bin)"
ensure_link "$APP/current/bin/gate-agent.js" "$(R $BIN)"

# ---- 6. models -------------------------------------------------------------------------

MODELS_DIR=${MODELS_DIR:-$VAR/models}
ensure_dir "$(R "$MODELS_DIR")" 750 "$SVC_UID" "$SVC_GID"
if asagent gate-agent models verify --config "$ETC/config.yaml" >"$WORK/verify.txt" 2>&1; then
  say "the models the config needs are installed and verify"
else
  from=()
  if [ -n "$MODELS_FROM" ]; then
    if [[ "$MODELS_FROM" =~ ^https?:// ]]; then
      from=(--from "$MODELS_FROM")
    else
      [ -e "$MODELS_FROM" ] || die "--models $MODELS_FROM does not exist"
      # A copy the service user can read (the source may be in a private home folder).
      stage_models=$(mktemp -d "$(R /var/tmp)/gate-agent-models.XXXXXX")
      cp -r "$MODELS_FROM" "$stage_models/src"
      chmod -R a+rX "$stage_models"
      from=(--from "${stage_models#"${ROOT%/}"}/src")
    fi
  fi
  if ! asagent gate-agent models pull --config "$ETC/config.yaml" "${from[@]}" --json >"$WORK/pull.json"; then
    [ -n "${stage_models:-}" ] && rm -rf "$stage_models"
    die "installing the models failed (above); give the model pack with --models DIR|ZIP|URL"
  fi
  [ -n "${stage_models:-}" ] && rm -rf "$stage_models"
  grep -q '"changed":true' "$WORK/pull.json" && changed "installed the models in $MODELS_DIR"
fi

# ---- 7. systemd ------------------------------------------------------------------------

unit_before=$CHANGES
ensure_file "$(R "$APP/$RELEASE/systemd/gate-agent.service")" "$(R $UNIT)" 644 0 0
if booted; then
  [ "$CHANGES" != "$unit_before" ] && systemctl daemon-reload
  if ! systemctl is-enabled --quiet gate-agent.service; then systemctl enable gate-agent.service; changed "enabled gate-agent.service"; fi
  if [ "$START" = 1 ]; then
    if [ "$CHANGES" != 0 ] && systemctl is-active --quiet gate-agent.service; then systemctl restart gate-agent.service; say "restarted gate-agent.service"
    elif ! systemctl is-active --quiet gate-agent.service; then systemctl start gate-agent.service; changed "started gate-agent.service"
    fi
  fi
else
  if ! systemctl --root="$ROOT" is-enabled --quiet gate-agent.service 2>/dev/null; then
    systemctl --root="$ROOT" enable gate-agent.service 2>&1 | sed 's/^/install.sh: systemctl: /'
    changed "enabled gate-agent.service"
  fi
  say "systemd is not running in this system (a chroot or container): gate-agent.service starts at its next boot"
fi

# ---- 8. doctor -------------------------------------------------------------------------

say "gate-agent doctor:"
doctor_rc=0
asagent gate-agent doctor --config "$ETC/config.yaml" || doctor_rc=$?
if [ "$CHANGES" = 0 ]; then say "nothing changed: gate-agent $VERSION (build $BUILD_ID) was already installed as asked"
else say "done: $CHANGES change(s); gate-agent $VERSION (build $BUILD_ID) installed"
fi
[ "$doctor_rc" = 0 ] || say "doctor found problems (FAIL above): docs/operations.md, Troubleshooting, says what each means; a camera or relay missing on a bench machine is expected"
exit 0
