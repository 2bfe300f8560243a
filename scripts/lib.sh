# shellcheck shell=bash
#
# lib.sh: what scripts/quickstart and scripts/test share: the list of
# Debian packages mkpd needs and how to install the missing ones, how to
# build in a build directory, and small polling helpers.
#
# Sourced, never run. Expects `set -euo pipefail` in the caller. Functions
# are prefixed mkp_; variables the caller may read are MKP_*.

MKP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything a fresh Debian 12 needs to build and run mkpd, run its unit
# tests and the integration suite (PostgreSQL, nginx and Apache run from
# the test harness or quickstart, never as system services; openssl makes
# their local CA and certificates).
MKP_PACKAGES=(
	build-essential autoconf automake libtool pkg-config autoconf-archive
	libfcgi-dev libyajl-dev libsodium-dev libpq-dev libcurl4-openssl-dev
	libinih-dev libssl-dev libmicrohttpd-dev check
	postgresql nginx-light apache2 openssl curl ca-certificates
	python3 python3-pytest python3-cryptography
	man-db groff-base
)
# What the Debian package test (test/integration/test_package.py) needs to
# build mkpd_*.deb from HEAD, check it and install it: debhelper, lintian,
# and the package's own dependencies (dbconfig-pgsql, systemd for
# systemd-tmpfiles), so that installing it installs nothing else.
MKP_PACKAGE_TEST_PACKAGES=(
	git debhelper lintian dbconfig-pgsql systemd adduser
)
# What only scripts/test adds: headless Chromium opens the HTML status page,
# clang and its runtime (libFuzzer, the sanitizers) build the fuzz targets
# (scripts/fuzz), pgbouncer sits between mkpd and PostgreSQL in
# test_store_ha.py. quickstart does not install them.
MKP_TEST_PACKAGES=(
	chromium
	clang libclang-rt-14-dev
	"${MKP_PACKAGE_TEST_PACKAGES[@]}"
	pgbouncer
)

mkp_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
mkp_die() { mkp_log "error: $*"; exit 1; }

# True when a Debian package is installed (not merely known or removed).
mkp_pkg_installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# mkp_install_deps [PACKAGE...]: installs the packages of MKP_PACKAGES, and
# those given, that are missing; runs
# `apt-get update` only when something is missing. Services the packages
# would start (the system PostgreSQL cluster, nginx on port 80) are kept
# from starting with a temporary policy-rc.d, so the install cannot fail on
# a busy port and leaves nothing running.
mkp_install_deps() {
	local p missing=() policy=/usr/sbin/policy-rc.d made_policy=no

	command -v dpkg-query >/dev/null || mkp_die "not a Debian system (no dpkg-query)"
	for p in "${MKP_PACKAGES[@]}" "$@"; do
		mkp_pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0

	if ((EUID != 0)); then
		mkp_die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
	fi
	mkp_log "installing: ${missing[*]}"
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=yes
	fi
	local rc=0
	{
		apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${missing[@]}" </dev/null
	} || rc=$?
	[[ $made_policy == yes ]] && rm -f "$policy"
	((rc == 0)) || mkp_die "apt-get failed (exit $rc)"
}

# mkp_build DIR [configure arguments...]
# Builds mkpd out of tree in $MKP_ROOT/DIR. Regenerates the build system
# only when configure is missing or older than its inputs, and re-runs
# configure only when the arguments changed or configure is newer.
# Warnings are errors here (--enable-werror, first, so that an argument
# --disable-werror still turns it off); a tarball's plain configure is not.
mkp_build() {
	local dir=$MKP_ROOT/$1
	shift
	local args="--enable-werror${*:+ $*}"

	# Every step checks its own status: callers use `if mkp_build ...`,
	# where set -e does not apply.
	(
		cd "$MKP_ROOT" || exit 1
		mkdir -p m4 || exit 1
		if [[ ! -x configure || configure.ac -nt configure ||
			Makefile.am -nt Makefile.in ]]; then
			mkp_log "autoreconf -fi"
			autoreconf -fi || exit 1
		fi
		mkdir -p "$dir" && cd "$dir" || exit 1
		if [[ ! -f Makefile || ! -f .mkp-configure-args ||
			"$(cat .mkp-configure-args)" != "$args" ||
			"$MKP_ROOT/configure" -nt config.status ]]; then
			mkp_log "configure ${args:-(defaults)} in ${dir#"$MKP_ROOT"/}"
			rm -f .mkp-configure-args
			# shellcheck disable=SC2086 # word splitting of the arguments is wanted
			"$MKP_ROOT/configure" $args || exit 1
			printf '%s' "$args" >.mkp-configure-args
		fi
		make -j"$(nproc)" || exit 1
	)
}

# mkp_poll TIMEOUT_SECONDS COMMAND...: runs COMMAND until it succeeds or
# the time is up (returns 1). Polls every 0.1 s.
mkp_poll() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# The bin directory of the newest installed PostgreSQL server.
mkp_pg_bindir() {
	local d
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	[[ -n $d && -x $d/initdb ]] || mkp_die "no PostgreSQL server found under /usr/lib/postgresql"
	printf '%s\n' "$d"
}

# Hex of N random bytes (lower case).
mkp_rand_hex() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

mkp_uuid() {
	cat /proc/sys/kernel/random/uuid
}
