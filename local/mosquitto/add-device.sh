#!/usr/bin/env bash
# Adds a device account to local/mosquitto/passwd, or changes its password.
#
#   local/mosquitto/add-device.sh <clientId> [password]
#
# The username is the device's LWMQN clientId: the ACL (./acl) lets the account publish only
# on <channel>/<clientId> and receive only its own responses, requests and `announce`, and
# mosquitto.conf forces the MQTT client id to the username. Without a password a random one is
# generated and printed (once: only its hash is stored). A password given here ends up in your
# shell history; pass `-` to read it from stdin instead.
# Environment: LWMQN_PASSWD_FILE (default: passwd beside this script), MOSQUITTO_PASSWD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/accounts.sh"

usage() {
  echo "usage: $0 <clientId> [password|-]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
id="$1"

# docs/PROTOCOL.md, "Topics": 1..128 characters, never / + # (MQTT topic level separator and
# wildcards: a clientId is one topic level). Whitespace and control characters are refused
# too, and ':' because it separates the username from the hash in the password file.
[[ -n "$id" ]] || die "the clientId is empty"
(( ${#id} <= 128 )) || die "the clientId is ${#id} characters long; at most 128"
[[ "$id" != *[/+#:]* ]] || die "the clientId must not contain / + # or :"
[[ "$id" != *[[:space:][:cntrl:]]* ]] || die "the clientId must not contain whitespace or control characters"
case "$id" in
  lwmqn-bridge | lwmqn-app | "${LWMQN_BRIDGE_USERNAME:-lwmqn-bridge}")
    die "'$id' is reserved for the server's own accounts (add-bridge.sh makes the bridge's)" ;;
esac

generated=false
if [[ $# -eq 2 && "$2" == "-" ]]; then
  IFS= read -r password || true
elif [[ $# -eq 2 ]]; then
  password="$2"
else
  password="$(random_password)"
  generated=true
fi
[[ -n "$password" ]] || die "the password is empty"

set_entry "$id" "$password"
echo "device account '$id' set in $PASSWD_FILE"
if $generated; then
  echo "password: $password"
  echo "(shown once; give it to the device together with clientId '$id')"
fi
reload_hint
