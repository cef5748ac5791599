# shellcheck shell=bash
# Shared set-up of sample/run_samples.sh, tests/run_tests.sh and .ci/run (sourced, not run).
#
#   source scripts/bootstrap.sh && dxltie_bootstrap [EXTRAS]     (EXTRAS: e.g. "test" or "test,docs")
#
# 1. Checks the system packages it needs: Mosquitto (the sandbox's broker), a python3 able to make
#    virtual environments (Debian's python3-venv) and, when pip will download, the CA certificates.
#    Root installs the missing ones with apt-get, after waiting (bounded) for a held apt/dpkg lock;
#    anyone else gets the exact command to run, before anything else is done, and a non-zero exit.
# 2. Creates (or reuses) the virtual environment .venv/ inside the checkout with `python3 -m venv`
#    (python3 from PATH, e.g. Debian's own: the system interpreter is never pip-installed into).
# 3. Installs this checkout there (`pip install -e ".[EXTRAS]"`), unless a stamp file in .venv/
#    shows it is already installed from this folder with these extras and the same setup.py,
#    pyproject.toml and version.
# 4. Checks that the environment's python imports dxltieclient from this checkout.
#
# It then sets DXLTIE_VENV_PYTHON (the environment's python) and puts .venv/bin first on PATH.
# Tunables: DXLTIE_APT_LOCK_TIMEOUT (seconds to wait for the apt/dpkg lock, default 120). The
# _DXLTIE_* variables below let tests point the checks at stand-ins.

DXLTIE_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DXLTIE_VENV_DIR="$DXLTIE_REPO_DIR/.venv"
DXLTIE_VENV_PYTHON="$DXLTIE_VENV_DIR/bin/python"
DXLTIE_STAMP_FILE="$DXLTIE_VENV_DIR/.dxltieclient-install-stamp"
# Where Mosquitto lives when it is not on PATH (a non-root user's PATH often lacks sbin)
: "${_DXLTIE_SBIN_DIRS:=/usr/sbin /usr/local/sbin /opt/homebrew/sbin}"
# The locks apt-get and dpkg take
: "${_DXLTIE_APT_LOCKS:=/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}"
: "${_DXLTIE_CA_BUNDLE:=/etc/ssl/certs/ca-certificates.crt}"

_dxltie_say() { echo "$*" >&2; }

_dxltie_has_mosquitto() {
    command -v mosquitto >/dev/null 2>&1 && return 0
    local dir
    for dir in $_DXLTIE_SBIN_DIRS; do
        [ -x "$dir/mosquitto" ] && return 0
    done
    return 1
}

# True when .venv/ has a python that runs
_dxltie_venv_runs() { [ -x "$DXLTIE_VENV_PYTHON" ] && "$DXLTIE_VENV_PYTHON" -c "" >/dev/null 2>&1; }

# True when .venv/ has a python that runs and has pip (a failed `python3 -m venv` leaves it without)
_dxltie_venv_has_pip() { _dxltie_venv_runs && "$DXLTIE_VENV_PYTHON" -c "import pip" >/dev/null 2>&1; }

# What the stamp file holds once this checkout is installed with EXTRAS ($1)
_dxltie_stamp_for() {
    local digest
    digest=$(cd "$DXLTIE_REPO_DIR" && cat setup.py pyproject.toml dxltieclient/_version.py \
        | { sha256sum 2>/dev/null || shasum -a 256; } | cut -d" " -f1)
    printf 'repo=%s\nsetup=%s\nextras=%s\n' "$DXLTIE_REPO_DIR" "$digest" "$1"
}

# True when the stamp shows this checkout installed with every extra in $1 (comma-separated)
_dxltie_stamp_covers() {
    [ -f "$DXLTIE_STAMP_FILE" ] || return 1
    local expected installed extra
    expected=$(_dxltie_stamp_for "" | sed '/^extras=/d')
    [ "$(sed '/^extras=/d' "$DXLTIE_STAMP_FILE")" = "$expected" ] || return 1
    installed=",$(sed -n 's/^extras=//p' "$DXLTIE_STAMP_FILE"),"
    for extra in ${1//,/ }; do
        case "$installed" in *",$extra,"*) ;; *) return 1 ;; esac
    done
    return 0
}

# The Debian packages missing for EXTRAS ($1), space-separated, in a fixed order
_dxltie_missing_packages() {
    local missing=()
    _dxltie_has_mosquitto || missing+=(mosquitto)
    if ! _dxltie_venv_has_pip \
            && ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    # (pip downloads over HTTPS; minimal Debian images lack the CA certificates)
    if command -v dpkg >/dev/null 2>&1 && ! _dxltie_stamp_covers "$1" \
            && [ ! -s "$_DXLTIE_CA_BUNDLE" ]; then
        missing+=(ca-certificates)
    fi
    echo "${missing[*]}"
}

# Prints "PID FILE" for the first apt/dpkg lock held by another process (POSIX or flock locks,
# read from /proc/locks: no fuser needed); prints nothing when none is held
_dxltie_apt_lock_holder() {
    local lock dev id
    for lock in $_DXLTIE_APT_LOCKS; do
        [ -e "$lock" ] || continue
        dev=$(stat -c %d "$lock") || continue
        id=$(printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) \
            "$(stat -c %i "$lock")")
        awk -v id="$id" -v file="$lock" '
            { for (i = 2; i <= NF; i++) if ($i == id) { print $(i - 1), file; exit } }
        ' /proc/locks 2>/dev/null | grep . && return 0
    done
    return 0
}

# Waits until no apt/dpkg lock is held, at most DXLTIE_APT_LOCK_TIMEOUT seconds; fails after that
_dxltie_wait_for_apt_lock() {
    local timeout="${DXLTIE_APT_LOCK_TIMEOUT:-120}" start holder told=""
    start=$(date +%s)
    while holder=$(_dxltie_apt_lock_holder) && [ -n "$holder" ]; do
        if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
            _dxltie_say "error: the apt/dpkg lock (${holder#* }) is still held by process" \
                "${holder%% *} after ${timeout} s. Run this again once the other package manager" \
                "(e.g. unattended-upgrades) has finished."
            return 1
        fi
        if [ -z "$told" ]; then
            _dxltie_say "Waiting up to ${timeout} s for another package manager to finish" \
                "(process ${holder%% *} holds ${holder#* })..."
            told=1
        fi
        sleep 1
    done
}

# Installs Debian packages ($@) as root, or tells anyone else the command to run and fails
_dxltie_install_packages() {
    if ! command -v apt-get >/dev/null 2>&1; then
        _dxltie_say "Missing: $* (Debian package names). Install them with your package manager" \
            "(on macOS: brew install mosquitto; Python from python.org or brew has venv), then" \
            "run this again."
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        _dxltie_say "Missing system packages: $*. Install them, then run this again:"
        _dxltie_say ""
        _dxltie_say "    sudo apt-get install -y $*"
        _dxltie_say ""
        return 1
    fi
    _dxltie_say "Installing the missing system packages: $*"
    _dxltie_wait_for_apt_lock || return 1
    local apt=(apt-get -q -o DPkg::Lock::Timeout="${DXLTIE_APT_LOCK_TIMEOUT:-120}")
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq \
        && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "$@" >/dev/null \
        || { _dxltie_say "error: apt-get could not install $* (see above)."; return 1; }
}

# Creates .venv/ with python3 from PATH (again, with --clear, when it is there but broken)
_dxltie_make_venv() {
    local python
    python=$(command -v python3) || {
        _dxltie_say "error: no python3 on PATH (Python 3.9 or later is needed)."
        return 1
    }
    if ! python3 -c "import sys; sys.exit(sys.version_info < (3, 9))" 2>/dev/null; then
        _dxltie_say "error: $python is Python $(python3 -c 'import platform; print(platform.python_version())'):" \
            "3.9 or later is needed."
        return 1
    fi
    _dxltie_say "Creating the virtual environment $DXLTIE_VENV_DIR (with $python)..."
    python3 -m venv --clear "$DXLTIE_VENV_DIR" >&2 || {
        _dxltie_say "error: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" \
            "('sudo apt-get install -y python3-venv'), then run this again."
        return 1
    }
}

# pip-installs this checkout into .venv/ with EXTRAS ($1) and writes the stamp
_dxltie_install_checkout() {
    local spec="$DXLTIE_REPO_DIR" extras="$1"
    if _dxltie_stamp_covers "" && [ -n "$extras" ]; then
        # Same checkout and setup: keep the extras already there
        local had
        had=$(sed -n 's/^extras=//p' "$DXLTIE_STAMP_FILE")
        [ -n "$had" ] && extras=$(printf '%s\n' ${had//,/ } ${extras//,/ } | sort -u | paste -sd, -)
    fi
    [ -n "$extras" ] && spec="$spec[$extras]"
    _dxltie_say "Installing $spec into $DXLTIE_VENV_DIR..."
    rm -f "$DXLTIE_STAMP_FILE"
    (unset PIP_USER PIP_REQUIRE_VIRTUALENV
     PIP_DISABLE_PIP_VERSION_CHECK=1 "$DXLTIE_VENV_PYTHON" -m pip install -q -e "$spec") >&2 || {
        _dxltie_say "error: pip could not install $spec into $DXLTIE_VENV_DIR (see above)."
        return 1
    }
    _dxltie_stamp_for "$extras" >"$DXLTIE_STAMP_FILE"
}

# Prints the file dxltieclient is imported from by .venv/'s python (run from /, so that the
# current folder does not count)
_dxltie_imported_from() {
    (cd / && "$DXLTIE_VENV_PYTHON" -c \
        "import os, dxltieclient; print(os.path.realpath(dxltieclient.__file__))") 2>/dev/null
}

_dxltie_lock_checkout() {
    # Two runs in one checkout must not build .venv/ at once: lock setup.py (read-only) meanwhile
    command -v flock >/dev/null 2>&1 || return 0
    exec {_DXLTIE_LOCK_FD}<"$DXLTIE_REPO_DIR/setup.py"
    flock -w 900 "$_DXLTIE_LOCK_FD" || {
        _dxltie_say "error: another run has been setting up $DXLTIE_VENV_DIR for 15 minutes."
        return 1
    }
}

_dxltie_unlock_checkout() {
    if [ -n "${_DXLTIE_LOCK_FD:-}" ]; then
        exec {_DXLTIE_LOCK_FD}<&-
        unset _DXLTIE_LOCK_FD
    fi
}

# Prints the command README.md shows after its line starting with $1 (e.g. "Run the tests"): the
# first line after it indented by four spaces (a code line), without the indent
dxltie_readme_command() {
    awk -v heading="$1" 'index($0, heading) == 1 {found = 1; next}
        found && /^    [^ ]/ {sub(/^    /, ""); print; exit}' "$DXLTIE_REPO_DIR/README.md"
}

# The whole set-up; EXTRAS ($1, optional): the setup.py extras to install, e.g. "test"
dxltie_bootstrap() {
    local extras="${1:-}" missing found expected="$DXLTIE_REPO_DIR/dxltieclient/__init__.py"
    missing=$(_dxltie_missing_packages "$extras")
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086  # a list of package names
        _dxltie_install_packages $missing || return 1
    fi
    _dxltie_lock_checkout || return 1
    if ! _dxltie_venv_has_pip; then
        _dxltie_make_venv || { _dxltie_unlock_checkout; return 1; }
    fi
    found=$(_dxltie_imported_from) || true
    if [ "$found" != "$expected" ] || ! _dxltie_stamp_covers "$extras"; then
        _dxltie_install_checkout "$extras" || { _dxltie_unlock_checkout; return 1; }
        found=$(_dxltie_imported_from) || true
    fi
    _dxltie_unlock_checkout
    if [ "$found" != "$expected" ]; then
        _dxltie_say "error: $DXLTIE_VENV_PYTHON imports dxltieclient from" \
            "${found:-nowhere (the import fails)}, not from this checkout ($DXLTIE_REPO_DIR/dxltieclient)." \
            "Unset PYTHONPATH if it names another copy, or delete $DXLTIE_VENV_DIR, then run this again."
        return 1
    fi
    export VIRTUAL_ENV="$DXLTIE_VENV_DIR"
    export PATH="$DXLTIE_VENV_DIR/bin:$PATH"
    export DXLTIE_VENV_PYTHON
}
