#!/bin/sh
# Entry point of the sttdesk image. The first argument is the role:
#   agent  sttdesk-agent on port $STTDESK_AGENT_PORT (7878), data in $STTDESK_HOME/agent,
#          models in $STTDESK_MODELS_DIR (the default)
#   serve  sttdesk serve; with STTDESK_AGENT_SERVICE=NAME:PORT it also connects to every
#          address NAME resolves to (all replicas of a compose service, say)
#   else   run as given, e.g. "sttdesk models list"
# The arguments after the role go to that program.
#
# Every agent link runs over CURVE and each side serves only keys it trusts. With
# STTDESK_CLUSTER_KEYS=DIR (a volume only this deployment's containers mount) the
# containers approve each other the way an admin would by typing keys in: an agent
# publishes its public key as DIR/agents/<its address>.pub and trusts DIR/coordinator.pub
# once the server has published it; the server publishes its key and trusts the key
# each agent address published (waiting up to STTDESK_CLUSTER_KEYS_WAIT seconds, 60).
set -eu

# The public key that "sttdesk agents key" / "sttdesk-agent key" print.
public_key() {
    sed -n 's/^public key: *//p'
}

# Write stdin to $1 whole or not at all (readers never see half a key).
publish() {
    mkdir -p "$(dirname "$1")"
    cat >"$1.tmp.$$"
    mv "$1.tmp.$$" "$1"
}

# This container's address on the compose network.
own_address() {
    hostname -i | awk '{ print $1 }'
}

# Wait up to $2 seconds for file $1; true when it is there.
wait_for_file() {
    waited=0
    while [ ! -s "$1" ]; do
        [ "$waited" -ge "$2" ] && return 1
        sleep 1
        waited=$((waited + 1))
    done
}
role="${1:-agent}"
[ "$#" -gt 0 ] && shift
case "$role" in
    agent)
        data="$STTDESK_HOME/agent"
        if [ -n "${STTDESK_CLUSTER_KEYS:-}" ]; then
            key="$(sttdesk-agent key --data-dir "$data" | public_key)"
            if [ -n "$key" ]; then
                printf '%s\n' "$key" | publish "$STTDESK_CLUSTER_KEYS/agents/$(own_address).pub"
            else
                echo "sttdesk-entrypoint: could not read this agent's public key" >&2
            fi
            # The server publishes its key after the agents are healthy: trust it when it comes
            # (a running agent follows its trust list at once).
            (
                if wait_for_file "$STTDESK_CLUSTER_KEYS/coordinator.pub" "${STTDESK_CLUSTER_KEYS_WAIT:-600}"; then
                    sttdesk-agent trust --data-dir "$data" --name "compose server" \
                        "$STTDESK_CLUSTER_KEYS/coordinator.pub" >/dev/null
                else
                    echo "sttdesk-entrypoint: no server key in $STTDESK_CLUSTER_KEYS: serving nobody" >&2
                fi
            ) </dev/null >/dev/null &
        fi
        exec sttdesk-agent --port "${STTDESK_AGENT_PORT:-7878}" \
            --data-dir "$data" --models-dir "$STTDESK_MODELS_DIR" "$@"
        ;;
    serve)
        if [ -n "${STTDESK_CLUSTER_KEYS:-}" ]; then
            sttdesk agents key | public_key | publish "$STTDESK_CLUSTER_KEYS/coordinator.pub"
        fi
        if [ -n "${STTDESK_AGENT_SERVICE:-}" ]; then
            name="${STTDESK_AGENT_SERVICE%:*}"
            port="${STTDESK_AGENT_SERVICE##*:}"
            addresses="$(getent ahostsv4 "$name" | awk '{ print $1 }' | sort -u)"
            [ -n "$addresses" ] || echo "sttdesk-entrypoint: $name resolves to no address yet" >&2
            for address in $addresses; do
                if [ -n "${STTDESK_CLUSTER_KEYS:-}" ]; then
                    shared="$STTDESK_CLUSTER_KEYS/agents/$address.pub"
                    if wait_for_file "$shared" "${STTDESK_CLUSTER_KEYS_WAIT:-60}"; then
                        sttdesk agents trust --address "$address:$port" --name "compose agent $address" \
                            "$shared" >/dev/null
                    else
                        echo "sttdesk-entrypoint: agent $address published no key: it gets no work" >&2
                    fi
                fi
                set -- "$@" --agent "$address:$port"
            done
        fi
        exec sttdesk serve "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
