#!/usr/bin/env bash
# Runs Mosquitto outside Docker with this folder's configuration: mosquitto.conf, with its
# container paths (/mosquitto/config, /mosquitto/data) pointed at this folder and at
# <repo>/.lwmqn/mosquitto (git-ignored). Extra arguments go to mosquitto (e.g. -v to see every
# packet, including the "Denied PUBLISH" lines of the ACL).
#
#   local/mosquitto/add-bridge.sh            # once: prints LWMQN_BRIDGE_PASSWORD=...
#   local/mosquitto/add-device.sh dev-001    # once per device
#   local/mosquitto/run-local.sh             # MQTT_PORT=1884 for another port
#
# Environment: MQTT_PORT (1883), LWMQN_PASSWD_FILE (the password file the account scripts
# write; default: passwd beside this script), LWMQN_MOSQUITTO_DIR (where the generated config
# and the persistence go; default <repo>/.lwmqn/mosquitto), MOSQUITTO (the binary).
#
# Reload users and ACL: kill -HUP <pid> (printed below). Started as root, mosquitto switches to
# the `mosquitto` user at once, before it reads passwd: so as root this script gives passwd to
# the group `mosquitto` (mode stays 0640) and the data folder to the user `mosquitto`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${LWMQN_MOSQUITTO_DIR:-$here/../../.lwmqn/mosquitto}"
mkdir -p "$state/data"
state="$(cd "$state" && pwd)"
# The same file add-device.sh and add-bridge.sh write (accounts.sh).
passwd="${LWMQN_PASSWD_FILE:-$here/passwd}"
[[ -f "$passwd" ]] || { echo "error: $passwd is missing: run add-bridge.sh and add-device.sh first" >&2; exit 1; }
passwd="$(cd "$(dirname "$passwd")" && pwd)/$(basename "$passwd")"

if [[ $EUID -eq 0 ]] && id mosquitto >/dev/null 2>&1; then
  chgrp mosquitto "$passwd" && chmod g+r,o-rwx "$passwd"
  chown -R mosquitto "$state/data"
fi

sed -e "s#^listener 1883\$#listener ${MQTT_PORT:-1883}#" \
  -e "s#^password_file /mosquitto/config/passwd\$#password_file $passwd#" \
  -e "s#/mosquitto/config/#$here/#g" \
  -e "s#/mosquitto/data/#$state/data/#g" \
  "$here/mosquitto.conf" >"$state/mosquitto.conf"
echo "mosquitto -c $state/mosquitto.conf (pid $$): users $passwd, ACL $here/acl" >&2
exec "${MOSQUITTO:-mosquitto}" -c "$state/mosquitto.conf" "$@"
