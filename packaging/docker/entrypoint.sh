#!/bin/sh
# Entry point of the sttdesk image. The first argument is the role:
#   agent  sttdesk-agent on port $STTDESK_AGENT_PORT (7878), data in $STTDESK_HOME/agent,
#          models in $STTDESK_MODELS_DIR (the default)
#   serve  sttdesk serve; with STTDESK_AGENT_SERVICE=NAME:PORT it also connects to every
#          address NAME resolves to (all replicas of a compose service, say)
#   else   run as given, e.g. "sttdesk models list"
# The arguments after the role go to that program.
set -eu
role="${1:-agent}"
[ "$#" -gt 0 ] && shift
case "$role" in
    agent)
        exec sttdesk-agent --port "${STTDESK_AGENT_PORT:-7878}" \
            --data-dir "$STTDESK_HOME/agent" --models-dir "$STTDESK_MODELS_DIR" "$@"
        ;;
    serve)
        if [ -n "${STTDESK_AGENT_SERVICE:-}" ]; then
            name="${STTDESK_AGENT_SERVICE%:*}"
            port="${STTDESK_AGENT_SERVICE##*:}"
            addresses="$(getent ahostsv4 "$name" | awk '{ print $1 }' | sort -u)"
            [ -n "$addresses" ] || echo "sttdesk-entrypoint: $name resolves to no address yet" >&2
            for address in $addresses; do
                set -- "$@" --agent "$address:$port"
            done
        fi
        exec sttdesk serve "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
