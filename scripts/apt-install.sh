# Sourced by the install scripts: apt_install TAG PACKAGE CONSEQUENCE installs a Debian package with
# apt-get (as root, or with sudo -n), running `apt-get update` once when the first try fails. What
# cannot be installed is reported on stderr, ending with CONSEQUENCE, and the caller goes on.
apt_install() {
    local tag=$1 package=$2 consequence=$3 sudo=""
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$tag: apt-get is not available; install the Debian package $package ($consequence)" >&2
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
            echo "$tag: not root and no sudo; run: apt-get install $package ($consequence)" >&2
            return 0
        fi
    fi
    echo "$tag: installing $package with apt-get"
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1; then
        $sudo apt-get update -qq >/dev/null 2>&1
        if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null; then
            echo "$tag: apt-get could not install $package; $consequence" >&2
        fi
    fi
}
