#!/usr/bin/env bash
# Build the one-folder bundle and the .deb of ECG Viewer from a clean checkout:
#
#   packaging/build_linux.sh           # everything, from a clean checkout
#   packaging/build_linux.sh bundle    # re-run PyInstaller and dpkg-deb (build venv kept)
#   packaging/build_linux.sh deb       # only re-assemble the .deb
#
# Output: packaging/dist/ecgviewer/ (the PyInstaller bundle) and
#         packaging/dist/ecgviewer_<version>_amd64.deb
# Work:   packaging/build/ (build venv, llama.cpp wheel cache, PyInstaller work, deb tree)
#
# Needs: Python 3.11+ built with a shared libpython (python3 -m venv), a C/C++
# compiler and cmake (llama.cpp is compiled here, 20-60 minutes on 2 cores), dpkg-deb,
# and the package registries (PyPI). Environment knobs:
#   PYTHON=python3.11          interpreter for the build venv (default: python3)
#   ECGVIEWER_LLAMA_WHEEL=...  use this portable llama-cpp-python wheel instead of compiling
#   ECGVIEWER_BUILD_JOBS=N     parallel compile jobs (default: number of cores)
#   ECGVIEWER_DEB_COMPRESSION  dpkg-deb compressor: xz (default), gzip, zstd or none
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/packaging"
BUILD="$PKG/build"
DIST="$PKG/dist"
VENV="$BUILD/venv"
PYTHON="${PYTHON:-python3}"
JOBS="${ECGVIEWER_BUILD_JOBS:-$(nproc)}"
COMPRESSION="${ECGVIEWER_DEB_COMPRESSION:-xz}"

LLAMA_VERSION="0.3.36"          # must match pyproject.toml's pin
PYINSTALLER_PINS=("pyinstaller==6.22.3" "pyinstaller-hooks-contrib==2026.9")
# Portable llama.cpp: no -march=native, one CPU backend per x86-64 level, chosen at run time.
# GGML_BACKEND_DL builds ggml backends as loadable modules; GGML_CPU_ALL_VARIANTS builds the
# CPU backend for x64, sse42, sandybridge, haswell, skylakex, icelake, alderlake, zen4 ...
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"

log() { printf '\n== %s\n' "$*"; }
die() { printf 'build_linux.sh: %s\n' "$*" >&2; exit 1; }

app_version() {
  sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$ROOT/ecgviewer/__init__.py"
}

check_tools() {
  log "checking tools"
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=...)"
  "$PYTHON" - <<'EOF' || die "need Python >= 3.11 built with --enable-shared (PyInstaller needs libpython)"
import sys, sysconfig
sys.exit(0 if sys.version_info >= (3, 11) and sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)
EOF
  command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"
  if [ -z "${ECGVIEWER_LLAMA_WHEEL:-}" ]; then
    for tool in cmake gcc g++; do
      command -v "$tool" >/dev/null || die "$tool not found (apt-get install build-essential cmake)"
    done
  fi
}

make_venv() {
  log "build venv: $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "${PYINSTALLER_PINS[@]}"
}

# Compile llama-cpp-python once per version and flag set; pip's own wheel cache is bypassed
# (--no-cache-dir) so a natively tuned wheel built elsewhere is never picked up instead.
portable_llama_wheel() {
  local key dir sdist
  key="$(printf '%s %s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"
  dir="$BUILD/wheels/llama-$LLAMA_VERSION-$key"
  sdist="$BUILD/sdist/llama_cpp_python-$LLAMA_VERSION.tar.gz"
  if [ ! -f "$sdist" ]; then
    log "downloading the llama-cpp-python $LLAMA_VERSION source"
    "$VENV/bin/python" -m pip download --quiet --no-deps --no-binary :all: \
      --dest "$BUILD/sdist" "llama-cpp-python==$LLAMA_VERSION"
  fi
  # llama.cpp's own licence, for the bundle's licenses/ folder
  mkdir -p "$BUILD/llama-license"
  tar -xzf "$sdist" -C "$BUILD/llama-license" --strip-components=3 \
    "llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp/LICENSE"
  if [ -n "${ECGVIEWER_LLAMA_WHEEL:-}" ]; then
    LLAMA_WHEEL="$ECGVIEWER_LLAMA_WHEEL"
    return
  fi
  if ! compgen -G "$dir/llama_cpp_python-*.whl" >/dev/null; then
    log "compiling llama-cpp-python $LLAMA_VERSION ($LLAMA_CMAKE_ARGS), $JOBS jobs"
    mkdir -p "$dir.partial"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" \
      "$VENV/bin/python" -m pip wheel --no-deps --no-cache-dir --wheel-dir "$dir.partial" "$sdist"
    rm -rf "$dir" && mv "$dir.partial" "$dir"
  fi
  LLAMA_WHEEL="$(compgen -G "$dir/llama_cpp_python-*.whl" | head -n1)"
}

install_app() {
  log "installing llama-cpp-python ($LLAMA_WHEEL) and the app"
  "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$LLAMA_WHEEL"
  # llama-cpp-python==$LLAMA_VERSION is now satisfied, so pip keeps the portable build.
  # The app is built from a fresh copy: setuptools leaves build/ and *.egg-info next to the
  # sources, and a stale build/lib could put deleted modules back into the wheel.
  local src="$BUILD/app-src"
  rm -rf "$src" && mkdir -p "$src"
  cp -a "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/ecgviewer" "$ROOT/resources" "$src/"
  mkdir -p "$src/models"  # the README and the manifest only: never a developer's GGUF files
  cp -a "$ROOT/models/README.md" "$ROOT/models/manifest.json" "$src/models/"
  find "$src" -name __pycache__ -prune -exec rm -rf {} +
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir --force-reinstall --no-deps "$src"
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir "$src"
  "$VENV/bin/python" - <<'EOF' || die "the installed llama-cpp-python has no CPU backend variants"
from importlib import metadata
names = [f.name for f in metadata.files("llama_cpp_python") or []]
variants = sorted(n for n in names if "ggml-cpu-" in n)
print("llama.cpp CPU variants:", ", ".join(variants))
raise SystemExit(0 if any("ggml-cpu-x64" in n for n in variants) else 1)
EOF
}

run_pyinstaller() {
  log "PyInstaller one-folder build"
  rm -rf "$DIST/ecgviewer"
  ECGVIEWER_LLAMA_CPP_LICENSE="$BUILD/llama-license/LICENSE" \
    "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$BUILD/pyinstaller" "$PKG/ecgviewer.spec"
  "$DIST/ecgviewer/ecgviewer" --version
}

# The distribution libraries the bundle links to (Qt's xcb/wayland plugins, OpenGL, fontconfig,
# libgomp for llama.cpp). dpkg-shlibdeps must find each of them on this machine to name its
# package in Depends, so install any that is missing (as root) or say which.
RUNTIME_PACKAGES=(
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0 libwayland-client0
  libwayland-cursor0 libwayland-egl1 libegl1 libgl1 libfontconfig1 libdbus-1-3 libgomp1
)
ensure_runtime_packages() {
  local missing=() package
  for package in "${RUNTIME_PACKAGES[@]}" dpkg-dev binutils; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing build-time copies of the runtime libraries: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    die "install these packages first: sudo apt-get install ${missing[*]}"
  fi
}

stage_deb() {
  local version="$1" stage="$2"
  log "staging the .deb tree: $stage"
  rm -rf "$stage"
  mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
    "$stage/usr/share/metainfo" "$stage/usr/share/doc/ecgviewer"
  cp -a "$DIST/ecgviewer" "$stage/opt/ecgviewer"
  ln -s /opt/ecgviewer/ecgviewer "$stage/usr/bin/ecgviewer"
  install -m 0644 "$PKG/linux/ecgviewer.desktop" "$stage/usr/share/applications/"
  sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -u +%Y-%m-%d)/" \
    "$PKG/linux/ecgviewer.metainfo.xml.in" >"$stage/usr/share/metainfo/ecgviewer.metainfo.xml"
  local size
  for size in 16 24 32 48 64 128 256 512; do
    install -D -m 0644 "$ROOT/resources/icons/ecgviewer-$size.png" \
      "$stage/usr/share/icons/hicolor/${size}x${size}/apps/ecgviewer.png"
  done
  install -D -m 0644 "$ROOT/resources/icons/ecgviewer.svg" \
    "$stage/usr/share/icons/hicolor/scalable/apps/ecgviewer.svg"
  install -m 0644 "$PKG/linux/copyright" "$stage/usr/share/doc/ecgviewer/copyright"
  printf 'ecgviewer (%s) stable; urgency=medium\n\n  * ECG Viewer %s.\n\n -- %s  %s\n' \
    "$version" "$version" "$(sed -n 's/^Maintainer: //p' "$PKG/linux/control.in")" \
    "$(date -u -R)" | gzip -9n >"$stage/usr/share/doc/ecgviewer/changelog.gz"
  # Debian's desktop-file-utils and hicolor icon cache update themselves through dpkg
  # triggers on these folders, so the package needs no maintainer scripts.
  find "$stage" -type d -exec chmod 0755 {} +
  chmod -R u+rwX,go+rX,go-w "$stage/opt" "$stage/usr"
  find "$stage/opt" -type f \( -name '*.so' -o -name '*.so.*' \) -exec chmod 0644 {} +
  local installed_size depends
  installed_size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
  log "computing Depends with dpkg-shlibdeps (a few minutes)"
  depends="$("$VENV/bin/python" "$PKG/linux/deb_depends.py" "$stage/opt/ecgviewer")"
  sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
    -e "s/@DEPENDS@/$depends/" "$PKG/linux/control.in" >"$stage/DEBIAN/control"
  # checksums of every file, so `dpkg --verify ecgviewer` can show a modified installation
  (cd "$stage" && find opt usr -type f -print0 | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
  chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
  cat "$stage/DEBIAN/control"
}

build_deb() {
  local version stage deb
  version="$(app_version)"
  [ -n "$version" ] || die "no __version__ in ecgviewer/__init__.py"
  stage="$BUILD/deb/ecgviewer_${version}_amd64"
  deb="$DIST/ecgviewer_${version}_amd64.deb"
  stage_deb "$version" "$stage"
  log "dpkg-deb ($COMPRESSION): $deb"
  rm -f "$deb"
  dpkg-deb --root-owner-group -Z"$COMPRESSION" --build "$stage" "$deb"
  dpkg-deb --info "$deb" | sed -n '1,4p'
  printf 'bundle:    %s\n' "$(du -sh "$DIST/ecgviewer" | cut -f1)"
  printf 'deb:       %s\n' "$(du -h "$deb" | cut -f1)"
  printf 'installed: %s KiB\n' "$(dpkg-deb --field "$deb" Installed-Size)"
}

main() {
  check_tools
  ensure_runtime_packages
  mkdir -p "$BUILD" "$DIST"
  case "${1:-all}" in
    all) make_venv; portable_llama_wheel; install_app; run_pyinstaller; build_deb ;;
    bundle) run_pyinstaller; build_deb ;;  # after an earlier full run: app code changed
    deb) build_deb ;;                      # after an earlier full run: packaging changed
    *) die "usage: build_linux.sh [all|bundle|deb]" ;;
  esac
}

main "$@"
