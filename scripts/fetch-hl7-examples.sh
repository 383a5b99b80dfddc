#!/usr/bin/env bash
# Download the official HL7 FHIR R4 examples (npm package hl7.fhir.r4.examples@4.0.1: 5,305 JSON resources)
# into a cache directory, extracted, for tests/test_hl7_corpus.py.
#   bash scripts/fetch-hl7-examples.sh            # -> .cache/hl7-r4-examples/package/*.json
#   HL7_EXAMPLES_DIR=/some/dir bash scripts/fetch-hl7-examples.sh
# Idempotent: when the extracted package is already there (marker file), it returns at once.
# Needs npm (Debian: apt-get install npm) and the npm registry; nothing else.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGE="hl7.fhir.r4.examples"
VERSION="4.0.1"
DEST="${HL7_EXAMPLES_DIR:-.cache/hl7-r4-examples}"
MARKER="$DEST/.complete-$PACKAGE-$VERSION"

if [ -f "$MARKER" ]; then
    echo "fetch-hl7-examples: cached ($(cat "$MARKER") files in $DEST/package)"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "fetch-hl7-examples: npm is required (apt-get install -y npm)" >&2
    exit 1
fi

mkdir -p "$DEST"
work="$(mktemp -d "${TMPDIR:-/tmp}/hl7-examples.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "fetch-hl7-examples: npm pack $PACKAGE@$VERSION"
tarball="$(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" | tail -n1)"
rm -rf "$DEST/package"
tar -xzf "$work/$tarball" -C "$DEST"
count="$(find "$DEST/package" -maxdepth 1 -name '*.json' ! -name 'package.json' ! -name '.index.json' ! -name 'ig-r4.json' | wc -l)"
if [ "$count" -lt 5000 ]; then
    echo "fetch-hl7-examples: only $count example files extracted; expected 5,305" >&2
    exit 1
fi
echo "$count" > "$MARKER"
echo "fetch-hl7-examples: $count examples in $DEST/package"
