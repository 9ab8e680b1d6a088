#!/usr/bin/env bash
# The browser tests' tools; safe to run again (it skips what is there).
#
# - Chromium: Debian's package `chromium` (apt-get; root or sudo) at /usr/bin/chromium, which
#   Playwright drives through executable_path. Never `playwright install`: it downloads its own
#   browsers from the internet.
# - axe-core 4.14.1 from npm into var/node (not committed), whose axe.min.js the tests inject.
# What cannot be installed is reported and skipped; the script still exits 0, and the browser tests
# (pytest -m browser) are then skipped with that reason.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/apt-install.sh

CHROMIUM=/usr/bin/chromium
AXE_VERSION=4.14.1
AXE_DIR=var/node

install_chromium() {
    if [ -x "$CHROMIUM" ]; then
        echo "install-browser: chromium already installed ($CHROMIUM)"
        return 0
    fi
    apt_install install-browser chromium "the browser tests will be skipped"
}

install_axe() {
    if [ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] \
        && grep -q "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json"; then
        echo "install-browser: axe-core $AXE_VERSION already installed ($AXE_DIR)"
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-browser: npm is not available; the accessibility checks of the browser tests will be skipped" >&2
        return 0
    fi
    mkdir -p "$AXE_DIR"
    if ! npm install --prefix "$AXE_DIR" --no-audit --no-fund --silent "axe-core@$AXE_VERSION"; then
        echo "install-browser: npm could not install axe-core@$AXE_VERSION; the accessibility checks will be skipped" >&2
    fi
}

install_chromium
install_axe
exit 0
