# Shared by add-device.sh and add-bridge.sh (sourced, not run): the password file and how an
# entry is written to it.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The file mosquitto.conf names (/mosquitto/config/passwd in the container is this file).
PASSWD_FILE="${LWMQN_PASSWD_FILE:-$here/passwd}"
MOSQUITTO_PASSWD="${MOSQUITTO_PASSWD:-mosquitto_passwd}"

die() {
  echo "error: $*" >&2
  exit 1
}

# 32 characters from [A-Za-z0-9]: about 190 bits, and nothing a shell or a .env file mangles.
random_password() {
  local pw
  pw="$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)" || true
  [[ ${#pw} -eq 32 ]] || die "could not read /dev/urandom"
  printf '%s' "$pw"
}

# set_entry <username> <password>: adds the account or changes its password.
set_entry() {
  command -v "$MOSQUITTO_PASSWD" >/dev/null 2>&1 ||
    die "$MOSQUITTO_PASSWD not found: install Mosquitto (apt-get install mosquitto) or set MOSQUITTO_PASSWD"
  if [[ ! -e "$PASSWD_FILE" ]]; then
    # Not world-readable: the hashes are secrets too. Mosquitto started as root reads it after
    # switching to its own user (uid 1883 in the Docker image): see docs/SECURITY.md.
    (umask 027 && : >"$PASSWD_FILE") || die "cannot create $PASSWD_FILE"
    echo "created $PASSWD_FILE (mode 0640)"
  fi
  # -b: the password comes from the command line; mosquitto_passwd keeps the file's mode and
  # replaces the line of an existing username.
  "$MOSQUITTO_PASSWD" -b "$PASSWD_FILE" "$1" "$2" || die "mosquitto_passwd failed"
}

reload_hint() {
  cat <<HINT
Mosquitto reads $PASSWD_FILE only at start and on SIGHUP. Reload it:
  docker compose kill -s HUP mosquitto        # the broker of local/docker-compose.yml (run in local/)
  kill -HUP <mosquitto pid>                   # a broker started with local/mosquitto/run-local.sh
HINT
}
