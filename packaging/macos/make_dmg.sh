#!/usr/bin/env bash
# Wrap the PyInstaller .app in a drag-to-Applications disk image (macOS only, uses hdiutil).
#
#   packaging/macos/make_dmg.sh ["packaging/dist/ECG Viewer.app"]
#
# Output: packaging/dist/ecgviewer-<version>-macos-<arch>.dmg
# Optional signing: MACOS_SIGN_IDENTITY="Developer ID Application: ..." signs the app with the
# hardened runtime; NOTARY_PROFILE=<keychain profile of `xcrun notarytool store-credentials`>
# then notarizes and staples the image. Without them the app keeps PyInstaller's ad-hoc
# signature, and Gatekeeper asks the user to confirm the first start (right-click > Open).
# Not run on the Linux development machine: see packaging/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
APP="${1:-$ROOT/packaging/dist/ECG Viewer.app}"
VERSION="$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$ROOT/ecgviewer/__init__.py")"
DMG="$ROOT/packaging/dist/ecgviewer-$VERSION-macos-$(uname -m).dmg"

command -v hdiutil >/dev/null || { echo "make_dmg.sh: hdiutil not found (macOS only)" >&2; exit 1; }
[ -d "$APP" ] || { echo "make_dmg.sh: no app bundle at $APP" >&2; exit 1; }

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$MACOS_SIGN_IDENTITY" "$APP"
fi
codesign --verify --deep --strict "$APP"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "ECG Viewer $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ] && [ -n "${NOTARY_PROFILE:-}" ]; then
  codesign --sign "$MACOS_SIGN_IDENTITY" --timestamp "$DMG"
  xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
fi
echo "$DMG"
