#!/usr/bin/env bash
# What tests/test_browser.py needs besides the Python packages of the `test` extra:
# Debian's Chromium (Playwright drives it; it never downloads a browser of its own), a font
# for the reports' text, poppler-utils (pdftotext reads the printed PDF) and axe-core
# (pinned in tests/axe/package-lock.json). With CI set, the browser tests fail without these.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core poppler-utils
npm ci --prefix tests/axe --no-audit --no-fund
