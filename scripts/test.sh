#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, build, unit and end-to-end tests, and
# the generated man pages and completions. Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: SIPp (sip-tester) plays SIP phones and providers; baresip-core is
# a real softphone (tests/tests/sip_baresip.rs; the core package has every module the test loads,
# without the GTK/ffmpeg/gstreamer extras). libopus-dev and pkg-config build the Opus<->G.711
# transcoding of crates/webrtc; chromium (with chromium-driver) runs the softphone page in the
# browser tests (tests/browser, driven by playwright-core from npm; node is on the machine).
packages=(sip-tester baresip-core tmux libopus-dev pkg-config chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installeren: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core, jssip and esbuild (bundles JsSIP for the page) for the browser tests, exactly as
# package-lock.json pins them (no browser download: the tests start Debian's /usr/bin/chromium).
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/jssip ] \
  || [ ! -d tests/browser/node_modules/esbuild ]; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked
cargo test --workspace --locked --no-fail-fast
scripts/check-generated.sh
