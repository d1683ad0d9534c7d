#!/usr/bin/env bash
# Install, update or remove sttdesk-agent as a systemd service on this Linux PC (as root).
#
#   install-agent.sh [--bundle DIR] [--models DIR] [--args "OPTIONS"] [--no-start] [--root DIR]
#   install-agent.sh --uninstall [--purge] [--root DIR]
#
#   --bundle DIR   the built bundle (scripts/build_bundle makes dist/sttdesk; the default)
#   --models DIR   also copy the whisper models of DIR (its manifest.json and ggml files, e.g.
#                  ~/.local/share/sttdesk/models of a PC where `sttdesk models install-default` ran)
#   --args "..."   the agent's own options, kept in /etc/default/sttdesk-agent (e.g. "--slots 2")
#   --no-start     do not enable or start the service (one that was running is restarted)
#   --root DIR     act on another root folder (building an image, tests); implies --no-start
#   --uninstall    stop and remove the service and the program; --purge also removes the
#                  agent's data, models and settings and the `sttdesk` user
#
# Running it again is safe: the user is created once, the program is replaced, the agent's
# data, models and settings are kept, and a running agent is restarted on the new program.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
UNIT_SOURCE="$HERE/sttdesk-agent.service"
SERVICE=sttdesk-agent
USER_NAME=sttdesk
PROGRAM_DIR=/opt/sttdesk
STATE_DIR=/var/lib/sttdesk-agent
DEFAULTS_FILE=/etc/default/sttdesk-agent
UNIT_FILE=/etc/systemd/system/sttdesk-agent.service
AGENT_PORT=7878

BUNDLE="$HERE/../../dist/sttdesk"
MODELS=""
AGENT_ARGS=""
SET_ARGS=0
START=1
ROOT=""
UNINSTALL=0
PURGE=0

die() { echo "install-agent: $*" >&2; exit 1; }
say() { echo "install-agent: $*"; }
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --bundle) BUNDLE="${2:?--bundle needs a folder}"; shift 2 ;;
        --models) MODELS="${2:?--models needs a folder}"; shift 2 ;;
        --args) AGENT_ARGS="${2?--args needs the options}"; SET_ARGS=1; shift 2 ;;
        --no-start) START=0; shift ;;
        --root) ROOT="${2:?--root needs a folder}"; START=0; shift 2 ;;
        --uninstall) UNINSTALL=1; shift ;;
        --purge) PURGE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "run me as root (sudo $0 ...)"
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "--root $ROOT is not a folder"
    ROOT="$(cd "$ROOT" && pwd)"
fi
((PURGE == 0 || UNINSTALL == 1)) || die "--purge goes with --uninstall"

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }
service_active() { systemd_running && systemctl is-active --quiet "$SERVICE"; }
user_exists() { grep -q "^$USER_NAME:" "$ROOT/etc/passwd" 2>/dev/null; }
user_ids() { awk -F: -v name="$USER_NAME" '$1 == name { print $3 ":" $4 }' "$ROOT/etc/passwd"; }

uninstall() {
    if systemd_running; then
        systemctl disable --now "$SERVICE" 2>/dev/null || true
    fi
    rm -f "$ROOT$UNIT_FILE"
    rm -rf "$ROOT$PROGRAM_DIR"
    systemd_running && systemctl daemon-reload
    if ((PURGE)); then
        rm -rf "$ROOT$STATE_DIR" "$ROOT$DEFAULTS_FILE"
        if user_exists; then
            userdel ${ROOT:+--root "$ROOT"} "$USER_NAME"
        fi
        say "removed the service, the program, its data, models, settings and the $USER_NAME user"
    else
        say "removed the service and the program; kept $STATE_DIR and $DEFAULTS_FILE (--purge removes them)"
    fi
}

create_user() {
    if user_exists; then
        return
    fi
    useradd ${ROOT:+--root "$ROOT"} --system --user-group --home-dir "$STATE_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "sttdesk transcription agent" "$USER_NAME"
    say "created the system user $USER_NAME"
}

install_program() {
    local source="$1" target="$ROOT$PROGRAM_DIR"
    # Copy beside the old program, then swap: a failed copy leaves the old one working.
    rm -rf "$target.new" "$target.old"
    mkdir -p "$(dirname "$target")"
    cp -a "$source" "$target.new"
    chown -R 0:0 "$target.new"
    chmod -R u+rwX,go+rX,go-w "$target.new"
    if [ -e "$target" ]; then
        mv "$target" "$target.old"
    fi
    mv "$target.new" "$target"
    rm -rf "$target.old"
}

write_defaults() {
    local file="$ROOT$DEFAULTS_FILE"
    mkdir -p "$(dirname "$file")"
    if [ ! -f "$file" ]; then
        cat > "$file" <<'EOF'
# Options of sttdesk-agent (see: /opt/sttdesk/sttdesk-agent --help), read by its systemd unit.
# Examples: --port 7878  --slots 2  --threads 1  --name meeting-room-pc  --log-level debug
STTDESK_AGENT_ARGS=""
EOF
        chmod 0644 "$file"
    fi
    if ((SET_ARGS)); then
        local kept
        kept="$(grep -v '^STTDESK_AGENT_ARGS=' "$file" || true)"
        printf '%s\nSTTDESK_AGENT_ARGS="%s"\n' "$kept" "$AGENT_ARGS" > "$file.new"
        mv "$file.new" "$file"
    fi
}

make_state_dirs() {
    local ids
    ids="$(user_ids)"
    mkdir -p "$ROOT$STATE_DIR/data" "$ROOT$STATE_DIR/models"
    chown "$ids" "$ROOT$STATE_DIR" "$ROOT$STATE_DIR/data" "$ROOT$STATE_DIR/models"
    chmod 0750 "$ROOT$STATE_DIR" "$ROOT$STATE_DIR/data" "$ROOT$STATE_DIR/models"
}

copy_models() {
    local source="$1" target="$ROOT$STATE_DIR/models" ids name
    ids="$(user_ids)"
    for file in "$source"/*.bin "$source/manifest.json"; do
        [ -f "$file" ] || continue
        name="$(basename "$file")"
        # Unchanged files are not copied again (models are hundreds of MB).
        if [ -f "$target/$name" ] && cmp -s "$file" "$target/$name"; then
            continue
        fi
        install -m 0640 -o "${ids%%:*}" -g "${ids##*:}" "$file" "$target/.$name.part"
        mv "$target/.$name.part" "$target/$name"
        say "copied model file $name"
    done
}

if ((UNINSTALL)); then
    uninstall
    exit 0
fi

[ -f "$UNIT_SOURCE" ] || die "the unit file $UNIT_SOURCE is missing"
[ -d "$BUNDLE" ] || die "no bundle at $BUNDLE: build one with scripts/build_bundle, or pass --bundle DIR"
BUNDLE="$(cd "$BUNDLE" && pwd)"
[ -x "$BUNDLE/sttdesk-agent" ] || die "$BUNDLE has no sttdesk-agent program: not an sttdesk bundle"
VERSION="$("$BUNDLE/sttdesk-agent" --version)" || die "$BUNDLE/sttdesk-agent does not run on this PC"
# Every input is checked before anything changes.
if [ -n "$MODELS" ]; then
    [ -d "$MODELS" ] || die "--models $MODELS is not a folder"
    [ -f "$MODELS/manifest.json" ] || die "$MODELS has no manifest.json: not an sttdesk models folder"
fi
case "$AGENT_ARGS" in
    *'"'*|*"'"*|*'\'*|*'$'*|*'`'*) die "--args cannot hold quotes, backslashes, \$ or backticks" ;;
esac

WAS_ACTIVE=0
if service_active; then
    WAS_ACTIVE=1
    say "stopping the running agent (it finishes its chunks first)"
    systemctl stop "$SERVICE"
fi

create_user
install_program "$BUNDLE"
say "installed $VERSION in $PROGRAM_DIR"
make_state_dirs
[ -n "$MODELS" ] && copy_models "$MODELS"
write_defaults
install -D -m 0644 "$UNIT_SOURCE" "$ROOT$UNIT_FILE"

if ((START)) && systemd_running; then
    systemctl daemon-reload
    systemctl enable --quiet "$SERVICE"
    systemctl restart "$SERVICE"
    say "service $SERVICE is $(systemctl is-active "$SERVICE") (journalctl -u $SERVICE -f)"
elif ((WAS_ACTIVE)); then
    systemctl daemon-reload
    systemctl start "$SERVICE"
    say "service $SERVICE restarted on the new program"
elif ((START)); then
    say "systemd is not running here: start the agent with systemctl start $SERVICE where it is"
else
    say "installed, not started (systemctl enable --now $SERVICE starts it)"
fi
say "coordinators reach this agent on TCP port $AGENT_PORT (or the --port in $DEFAULTS_FILE): open it in the firewall"
