#!/usr/bin/env bash
# Compiles the Curator anchor harness with javac against Debian's jars into out/ (ignored by
# git). No Maven and no download: the jars come from the packages zookeeper and
# libcurator-recipes-java (which pulls in curator-framework, curator-client and guava).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=classpath.sh
. "$here/classpath.sh"
javac -Xlint:all,-options,-path -Werror --release 17 -d "$here/out.new" -cp "$ANCHOR_CP" "$here"/src/anchor/*.java
rm -rf "$here/out"
mv "$here/out.new" "$here/out"
echo "built $here/out" >&2
