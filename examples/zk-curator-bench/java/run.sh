#!/usr/bin/env bash
# Compiles (once per source change) and runs CounterBench, the Java Curator 5.4 twin of the
# counter workloads, with Debian's jars; all arguments are passed through.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
J=/usr/share/java
CP="$J/curator-framework.jar:$J/curator-client.jar:$J/curator-recipes.jar:$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/guava.jar:$J/slf4j-api.jar"
out="${CARGO_TARGET_DIR:-$here/../../../target}/counter-bench-java"
if [ ! -f "$out/CounterBench.class" ] || [ "$here/CounterBench.java" -nt "$out/CounterBench.class" ]; then
  mkdir -p "$out"
  javac -nowarn --release 17 -d "$out" -cp "$CP" "$here/CounterBench.java" >&2
fi
exec java ${BENCH_JAVA_OPTS:-} -cp "$out:$CP:$J/slf4j-nop.jar" CounterBench "$@"
