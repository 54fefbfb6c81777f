#!/usr/bin/env bash
# Adds the server's bridge account (lwmqn-bridge, or $LWMQN_BRIDGE_USERNAME) to
# local/mosquitto/passwd, or changes its password.
#
#   local/mosquitto/add-bridge.sh [password|-]
#
# Without a password a random one is generated. The line it prints, LWMQN_BRIDGE_PASSWORD=...,
# goes into local/.env (docker compose) or the environment of `npm start`. The ACL gives this
# account the server's topics (./acl, `user lwmqn-bridge`): if you change the username, change
# the `user` line of the ACL too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/accounts.sh"

[[ $# -le 1 ]] || { echo "usage: $0 [password|-]" >&2; exit 2; }
user="${LWMQN_BRIDGE_USERNAME:-lwmqn-bridge}"
if [[ $# -eq 1 && "$1" == "-" ]]; then
  IFS= read -r password || true
elif [[ $# -eq 1 ]]; then
  password="$1"
else
  password="$(random_password)"
fi
[[ -n "$password" ]] || die "the password is empty"

set_entry "$user" "$password"
echo "bridge account '$user' set in $PASSWD_FILE. The server needs:"
echo "LWMQN_BRIDGE_PASSWORD=$password"
[[ "$user" == lwmqn-bridge ]] || echo "and LWMQN_BRIDGE_USERNAME=$user"
reload_hint
