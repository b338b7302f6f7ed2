# Sourced by build.sh and run.sh: the Debian jars the harness compiles and runs against, in
# ANCHOR_CP; fails with the packages to install when one is missing.
jars=/usr/share/java
ANCHOR_CP=""
for jar in curator-framework curator-client curator-recipes zookeeper zookeeper-jute guava slf4j-api; do
  if [ ! -f "$jars/$jar.jar" ]; then
    echo "missing $jars/$jar.jar: apt-get install zookeeper libcurator-recipes-java openjdk-17-jdk-headless" >&2
    exit 1
  fi
  ANCHOR_CP="${ANCHOR_CP:+$ANCHOR_CP:}$jars/$jar.jar"
done
