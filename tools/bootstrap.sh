# Sourced by test/run and bench/run: installs the packages in tools/packages.txt that are missing.
# A warm machine never touches apt (dpkg-query only); apt-get update runs only before an install.

# Prints the packages from tools/packages.txt that dpkg does not report as installed.
ringo_missing_packages() {
  local pkg
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$(dirname "${BASH_SOURCE[0]}")/packages.txt" |
    while read -r pkg; do
      [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == 'install ok installed' ]] ||
        echo "$pkg"
    done
}

# Installs what is missing when we are root on a Debian-like system; otherwise says what is missing
# and carries on (meson falls back to subprojects/*.wrap, and tests needing an absent peer skip).
ringo_bootstrap() {
  if ! command -v dpkg-query >/dev/null; then
    echo "bootstrap: no dpkg here; install the packages in tools/packages.txt yourself" >&2
    return 0
  fi
  local -a missing
  mapfile -t missing < <(ringo_missing_packages)
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: not root, not installing: ${missing[*]}" >&2
    return 0
  fi
  echo "bootstrap: installing: ${missing[*]}"
  # Non-interactive and stdin-free so it works under CI; policy-rc.d keeps postinst scripts from
  # starting daemons (nginx) that would hold ports the tests and benchmarks want.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  } </dev/null || rc=$?
  ((own_policy)) && rm -f "$policy"
  return "$rc"
}
