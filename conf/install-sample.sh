#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Installs the sample configuration unless one is already there: an
# administrator's edited file is never overwritten. Run by meson install as
#     install-sample.sh SOURCE CONFIG_FILE
# with DESTDIR honoured (meson sets it for install scripts).
set -eu

src=$1
dest=${DESTDIR:-}$2

if [ -e "$dest" ] || [ -L "$dest" ]; then
        echo "Keeping existing $dest"
        exit 0
fi
mkdir -p "$(dirname "$dest")"
# Copy to a temporary name first so that an interrupted install never
# leaves a truncated configuration behind.
cp "$src" "$dest.tmp.$$"
chmod 0644 "$dest.tmp.$$"
mv "$dest.tmp.$$" "$dest"
echo "Installing $src to $dest"
