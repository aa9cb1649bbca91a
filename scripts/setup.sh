#!/usr/bin/env bash
# Prepares a fresh Debian machine for streamapp: system packages, then a virtualenv in .venv
# with the package and its [dev] extra. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages:
#   libcoap3-bin                     Debian's libcoap coap-server-*/coap-client-* (independent CoAP peer)
#   autoconf automake libtool pkg-config   DTLSSocket's build (aiocoap's tinydtls transport)
#   iproute2                         network namespaces for the delayed-link benchmarks
#   default-jdk-headless maven       Apache Kafka brokers for the dev stack, tests and benchmarks (Java 17+,
#                                    jars resolved from Maven Central), only when no Java 17+ / mvn is there
#   chromium                         headless browser for the dev stack's web view test (tests/devstack)
#   nodejs npm                       the official Diffusion JavaScript client's tests, only when no node / npm
#   curl                             the REST API test that follows the seed's curl steps
APT_PACKAGES=(libcoap3-bin autoconf automake libtool pkg-config iproute2 chromium curl)
command -v node >/dev/null || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null || APT_PACKAGES+=(npm)
java_major() {
    local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
    command -v "$java" >/dev/null || { echo 0; return; }
    "$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}
if [ "$(java_major)" -lt 17 ] 2>/dev/null || [ -z "$(java_major)" ]; then
    APT_PACKAGES+=(default-jdk-headless)
fi
command -v mvn >/dev/null || APT_PACKAGES+=(maven)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing Debian packages ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    fi
fi

# Python 3.11 or 3.12 (the diffusion SDK does not support 3.13).
PY=""
for cand in "${PYTHON:-}" python3.12 python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null; then
        PY="$cand"; break
    fi
done
if [ -z "$PY" ]; then
    echo "setup: need Python 3.11 or 3.12 (set PYTHON=/path/to/python3.12)" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PY" --version)"
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

# Apache Kafka for the dev stack, the tests (newest 4.x, and 3.9 for the compatibility set) and the
# benchmarks: jars from Maven Central, cached in ~/.cache/streamapp (a second run downloads nothing).
for version in $(.venv/bin/python -c 'from streamapp.devstack.kafka_jars import DEFAULT_KAFKA_VERSION as d, COMPAT_KAFKA_VERSION as c; print(d, c)'); do
    .venv/bin/streamapp kafka-broker --download-only --kafka-version "$version"
done
# The official Diffusion Java client (Maven Central com.diffusiondata.diffusion:diffusion-client-with-
# dependencies 6.11.5, the connector's line) for the emulator's Java client test, cached like the Kafka jars.
# A version Maven cannot resolve is recorded, and that test skips with the reason; setup goes on.
.venv/bin/python -m tests.fixtures.diffusion_java || true

# npm packages (package.json, package-lock.json): the official Diffusion JavaScript client, for the
# emulator's client tests and the dev stack's web view. Installed into node_modules (never committed);
# skipped when node_modules already matches the lock file, so a second run touches nothing.
if command -v npm >/dev/null; then
    lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
    if [ "$(cat node_modules/.streamapp-lock 2>/dev/null)" != "$lock_sum" ]; then
        echo "setup: installing npm packages (npm ci)"
        npm ci --no-audit --no-fund --loglevel=error
        echo "$lock_sum" > node_modules/.streamapp-lock
    fi
else
    echo "setup: npm is missing; the JavaScript client tests and the dev stack's web view need it" >&2
fi

echo "setup: ready (.venv/bin/streamapp, .venv/bin/pytest)"
