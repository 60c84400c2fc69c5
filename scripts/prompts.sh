#!/usr/bin/env bash
# Makes the shipped Dutch announcements in conf.d/prompts/ with espeak-ng and sox (Debian packages
# espeak-ng and sox; only needed to run this script, not to build or run pbxd): WAV, 8 kHz, mono,
# 16-bit PCM, the format pbxd plays to a G.711 leg without resampling. The names are the ones the
# belplan refers to (`announcement = "gesloten"`); an organisation can point to its own files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/conf.d/prompts"
for cmd in espeak-ng sox; do
  command -v "$cmd" >/dev/null || { echo "$cmd ontbreekt (apt-get install espeak-ng sox)" >&2; exit 69; }
done
mkdir -p "$out"
declare -A text=(
  [niet-beschikbaar]="Dit nummer is op dit moment niet bereikbaar. Probeert u het later opnieuw."
  [niet-toegestaan]="U mag dit nummer niet bellen. Neemt u contact op met uw beheerder."
  [gesloten]="Wij zijn op dit moment gesloten. Belt u ons terug tijdens onze openingstijden."
  [menu]="Welkom. Kies één voor verkoop, twee voor service, of blijf aan de lijn."
  [ongeldige-keuze]="Deze keuze is niet geldig. Probeert u het opnieuw."
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in "${!text[@]}"; do
  espeak-ng -v nl -s 150 -w "$tmp/$name.wav" "${text[$name]}"
  # 8 kHz mono 16-bit; a short silence before and after so the first syllable is not clipped.
  sox "$tmp/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$name.wav" pad 0.2 0.3 norm -3
  echo "$out/$name.wav"
done
