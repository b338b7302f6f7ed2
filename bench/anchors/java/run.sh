#!/usr/bin/env bash
# Runs the Curator anchor harness (building it first if out/ is missing); every argument is
# passed on (bench/README.md, "Command line"). JVM options: BENCH_JAVA_OPTS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=classpath.sh
. "$here/classpath.sh"
[ -f "$here/out/anchor/Main.class" ] || "$here/build.sh"
# slf4j-nop: Curator and the ZooKeeper client log through slf4j; their lines are not wanted.
# shellcheck disable=SC2086
exec java ${BENCH_JAVA_OPTS:-} -cp "$here/out:$ANCHOR_CP:/usr/share/java/slf4j-nop.jar" anchor.Main "$@"
