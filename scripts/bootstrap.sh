#!/usr/bin/env bash
# Installs what `make run` and `make test` need: Debian packages (as root, via
# apt-get; otherwise prints the exact command) and the Python packages into .venv
# (the project with its `server` and `test` extras).
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(espeak-ng ffmpeg sox libsndfile1 alsa-utils postgresql chromium fonts-wqy-zenhei openssl gpsd gpsd-clients ${EXTRA_DEB_PACKAGES:-})
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "bootstrap: installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "bootstrap: missing Debian packages. Run as root:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$PYTHON" -m venv .venv
fi
# The server part and the test tools (a loudspeaker computer needs only `pip install .`).
# Reinstall only when the dependency list or these extras changed.
EXTRAS=server,test
stamp=.venv/.installed-$( (echo "$EXTRAS"; cat pyproject.toml) | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "bootstrap: installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
