#!/usr/bin/env bash
# Provisions the servers otaflow runs against locally: pinned, cached, idempotent.
#
#   scripts/provision.sh            everything `npm test` needs
#   scripts/provision.sh --runtime  only what `npm start` needs (Temporal CLI, MinIO)
#
# Each item prints one line. Anything that cannot be had stops the script with a message saying
# what is missing, why, and what to do. A second run finds every stamp and does nothing.
# See docs/provisioning.md.
set -euo pipefail

readonly TEMPORAL_CLI_MODULE=github.com/temporalio/cli/cmd/temporal
readonly TEMPORAL_CLI_VERSION=v1.5.1
# The Go module proxy refuses MinIO's RELEASE.* tags (they are not semver), so MinIO is pinned by the
# pseudo-version of a commit on its master branch.
readonly MINIO_MODULE=github.com/minio/minio
readonly MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
readonly TEST_SERVER_VERSION=1.38.0
readonly SLF4J_VERSION=1.7.36
readonly LESHAN_CLIENT_VERSION=1.5.0
readonly CALIFORNIUM_VERSION=3.14.0
# Eclipse Paho's Python client, for the interop suite's device written against the seed SDK's behaviour.
readonly PAHO_MQTT_VERSION=2.1.0
# Temporal's own server and its SQL schema tool, for the tests that run otaflow on a PostgreSQL-backed
# Temporal as production does (src/stack/temporal-server.ts); the server the Temporal CLI embeds.
readonly TEMPORAL_SERVER_MODULE=go.temporal.io/server
readonly TEMPORAL_SERVER_VERSION=v1.29.1
# Helm, to lint and render the chart in deploy/helm/ (test/unit/deploy/helm-chart.test.ts).
readonly HELM_MODULE=helm.sh/helm/v4/cmd/helm
readonly HELM_VERSION=v4.3.2
readonly MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# The toolchain the pinned modules were built and tested with; the go command fetches it through
# the module proxy when the machine's own Go is a different version.
readonly GO_TOOLCHAIN=${OTAFLOW_GOTOOLCHAIN:-go1.26.8}

readonly CACHE_DIR=${OTAFLOW_CACHE_DIR:-$HOME/.cache/otaflow}
PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly PROJECT_DIR
readonly BIN_DIR=$CACHE_DIR/bin
readonly STAMP_DIR=$CACHE_DIR/stamps

runtime_only=false
case "${1:-}" in
  '') ;;
  --runtime) runtime_only=true ;;
  *)
    echo "provision: unknown argument '$1' (use --runtime, or no argument for everything)" >&2
    exit 2
    ;;
esac

say() { printf 'provision: %-24s %s\n' "$1" "$2"; }

# cannot_have WHAT WHY WHAT-TO-DO
cannot_have() {
  printf 'provision: %-24s cannot be provisioned: %s\n  what to do: %s\n' "$1" "$2" "$3" >&2
  exit 1
}

has() { command -v "$1" >/dev/null 2>&1; }

stamp_file() { echo "$STAMP_DIR/$1@$2"; }

# The module version a Go binary was built from, as `go version -m` reports it.
go_module_version() { go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'; }

# go_binary NAME MODULE VERSION ENV_OVERRIDE WITHOUT_GO [ADOPTABLE_PATH]
# WITHOUT_GO is the function that handles a machine without Go. A binary at ADOPTABLE_PATH that Go
# says was built from the pinned version is moved into the cache instead of being rebuilt.
go_binary() {
  local name=$1 module=$2 version=$3 override_var=$4 without_go=$5 adoptable=${6:-}
  local target=$BIN_DIR/$name stamp
  stamp=$(stamp_file "$name" "$version")
  local override=${!override_var:-}
  if [[ -n $override ]]; then
    [[ -x $override ]] || cannot_have "$name" "$override_var=$override is not an executable file" \
      "point $override_var at a $name binary, or unset it to use the provisioned one"
    say "$name" "using $override_var=$override"
    return
  fi
  if [[ -f $stamp && -x $target ]]; then
    say "$name" "cached ($version)"
    return
  fi
  if ! has go; then
    "$without_go"
    return
  fi
  mkdir -p "$BIN_DIR" "$STAMP_DIR"
  local candidate
  for candidate in "$target" "$adoptable"; do
    if [[ -n $candidate && -x $candidate && $(go_module_version "$candidate") == "${version}" ]]; then
      [[ $candidate == "$target" ]] || mv "$candidate" "$target"
      touch "$stamp"
      say "$name" "cached ($version, found at $candidate)"
      return
    fi
  done
  say "$name" "building $version with go install (first time: about 4 minutes)..."
  # go install names the binary after the module's last element (`server`, `sql`): built aside, then named.
  local build_dir
  build_dir=$(mktemp -d)
  if ! GOBIN=$build_dir GOTOOLCHAIN=$GO_TOOLCHAIN go install "$module@$version"; then
    rm -rf "$build_dir"
    cannot_have "$name" "go install $module@$version failed (output above)" \
      "check that the Go module proxy is reachable (go env GOPROXY), then run scripts/provision.sh again"
  fi
  mv "$build_dir/${module##*/}" "$target"
  rm -rf "$build_dir"
  touch "$stamp"
  say "$name" "built ($version)"
}

# go_component NAME OVERRIDE_VAR WITHOUT_GO_ADVICE: otaflow's own Go program in components/NAME, built
# from this repository's source with the pinned toolchain (its modules from the Go proxy); the stamp
# is a SHA-256 of its source.
go_component() {
  local name=$1 override_var=$2 without_go_advice=$3 source=$PROJECT_DIR/components/$1
  local target=$BIN_DIR/$1 version stamp override=${!2:-}
  version=$(cat "$source"/go.mod "$source"/go.sum "$source"/*.go | sha256sum | cut -c1-12)
  stamp=$(stamp_file "$name" "$version")
  if [[ -n $override ]]; then
    [[ -x $override ]] || cannot_have "$name" "$override_var=$override is not an executable file" \
      "point $override_var at a $name binary, or unset it to build one"
    say "$name" "using $override_var=$override"
    return
  fi
  if [[ -f $stamp && -x $target ]]; then
    say "$name" "cached ($version)"
    return
  fi
  has go || cannot_have "$name" "Go is not installed, and $name is built from components/$name" \
    "install Go 1.21 or newer (it fetches the pinned $GO_TOOLCHAIN itself)$without_go_advice"
  mkdir -p "$BIN_DIR" "$STAMP_DIR"
  if ! (cd "$source" && GOTOOLCHAIN=$GO_TOOLCHAIN go build -trimpath -o "$target.tmp" .); then
    cannot_have "$name" "go build in $source failed (output above)" \
      "check that the Go module proxy is reachable (go env GOPROXY), then run scripts/provision.sh again"
  fi
  mv "$target.tmp" "$target"
  touch "$stamp"
  say "$name" "built ($version)"
}

# The DTLS terminator (pion/dtls) ends LwM2M's DTLS sessions for the gateway; the DTLS tunnels carry
# the simulated NB-IoT devices of the demo and the benchmark over DTLS.
provision_dtls_components() {
  go_component dtls-terminator OTAFLOW_DTLS_TERMINATOR_BIN ', or run with LWM2M_DTLS=off'
  go_component dtls-tunnels OTAFLOW_DTLS_TUNNELS_BIN ', or run with LWM2M_DTLS=off'
}

temporal_server_without_go() {
  cannot_have temporal-server "Go is not installed, and Temporal's server is built from $TEMPORAL_SERVER_MODULE@$TEMPORAL_SERVER_VERSION" \
    "install Go 1.21 or newer, or set OTAFLOW_TEMPORAL_SERVER_BIN, OTAFLOW_TEMPORAL_SQL_TOOL_BIN and OTAFLOW_TEMPORAL_SCHEMA_DIR"
}

# The server, its SQL tool, and the PostgreSQL schema they come with (kept beside them in the cache).
provision_temporal_server() {
  go_binary temporal-server "$TEMPORAL_SERVER_MODULE/cmd/server" "$TEMPORAL_SERVER_VERSION" \
    OTAFLOW_TEMPORAL_SERVER_BIN temporal_server_without_go
  go_binary temporal-sql-tool "$TEMPORAL_SERVER_MODULE/cmd/tools/sql" "$TEMPORAL_SERVER_VERSION" \
    OTAFLOW_TEMPORAL_SQL_TOOL_BIN temporal_server_without_go
  local schema=$CACHE_DIR/temporal-server-schema/$TEMPORAL_SERVER_VERSION stamp
  stamp=$(stamp_file temporal-server-schema "$TEMPORAL_SERVER_VERSION")
  if [[ -n ${OTAFLOW_TEMPORAL_SCHEMA_DIR:-} ]]; then
    say temporal-server-schema "using OTAFLOW_TEMPORAL_SCHEMA_DIR=$OTAFLOW_TEMPORAL_SCHEMA_DIR"
    return
  fi
  if [[ -f $stamp && -d $schema ]]; then
    say temporal-server-schema "cached ($TEMPORAL_SERVER_VERSION)"
    return
  fi
  has go || temporal_server_without_go
  local module_dir
  module_dir=$(GOTOOLCHAIN=$GO_TOOLCHAIN go mod download -json "$TEMPORAL_SERVER_MODULE@$TEMPORAL_SERVER_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $module_dir/schema/postgresql/v12 ]] ||
    cannot_have temporal-server-schema "no schema/postgresql/v12 in $TEMPORAL_SERVER_MODULE@$TEMPORAL_SERVER_VERSION" \
      "check that the Go module proxy is reachable (go env GOPROXY), then run scripts/provision.sh again"
  rm -rf "$schema"
  mkdir -p "$schema"
  cp -R "$module_dir/schema/postgresql" "$schema/"
  chmod -R u+w "$schema"
  touch "$stamp"
  say temporal-server-schema "copied ($TEMPORAL_SERVER_VERSION)"
}

helm_without_go() {
  cannot_have helm "Go is not installed, and Helm is built from $HELM_MODULE@$HELM_VERSION" \
    "install Go 1.21 or newer, or set OTAFLOW_HELM_BIN to a Helm 3.8+ binary"
}

# The chart's checks: Helm renders it, k8s-manifest-check decodes every object strictly; and
# observability-check reads the Grafana dashboard and the Prometheus alert rules in deploy/.
provision_chart_tools() {
  go_binary helm "$HELM_MODULE" "$HELM_VERSION" OTAFLOW_HELM_BIN helm_without_go
  go_component k8s-manifest-check OTAFLOW_K8S_MANIFEST_CHECK_BIN ''
  go_component observability-check OTAFLOW_OBSERVABILITY_CHECK_BIN ''
}

temporal_cli_without_go() {
  say temporal "skipped: Go is not installed; @temporalio/testing will download the Temporal dev server itself (needs internet)"
}

minio_without_go() {
  cannot_have minio "Go is not installed, and MinIO has no other pinned source" \
    "install Go 1.21 or newer (it fetches the pinned $GO_TOOLCHAIN itself), or set OTAFLOW_MINIO_BIN to a minio binary"
}

provision_temporal_cli() {
  go_binary temporal "$TEMPORAL_CLI_MODULE" "$TEMPORAL_CLI_VERSION" OTAFLOW_TEMPORAL_BIN temporal_cli_without_go
}

provision_minio() {
  go_binary minio "$MINIO_MODULE" "$MINIO_VERSION" OTAFLOW_MINIO_BIN minio_without_go "$CACHE_DIR/minio-bin/minio"
}

provision_temporal_test_server() {
  local name=temporal-test-server version=$TEST_SERVER_VERSION
  local home=$CACHE_DIR/temporal-test-server/$version target=$BIN_DIR/temporal-test-server stamp
  stamp=$(stamp_file "$name" "$version")
  if [[ -n ${OTAFLOW_TEMPORAL_TEST_SERVER:-} ]]; then
    say "$name" "using OTAFLOW_TEMPORAL_TEST_SERVER=$OTAFLOW_TEMPORAL_TEST_SERVER"
    return
  fi
  if [[ -f $stamp && -x $target ]]; then
    say "$name" "cached ($version)"
    return
  fi
  if ! has java || ! has mvn; then
    say "$name" "skipped: java or mvn is not installed; @temporalio/testing will download the test server itself (needs internet)"
    return
  fi
  mkdir -p "$home" "$BIN_DIR" "$STAMP_DIR"
  # The artifact is not a fat jar: Maven resolves its runtime classpath into lib/. slf4j-nop keeps
  # the server from printing slf4j's "no binding" warning into every test run.
  cat >"$home/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>otaflow.provisioning</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>$version</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "${home:?}/lib"
  if ! mvn -B -f "$home/pom.xml" "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$home/lib" >"$home/maven.log" 2>&1; then
    tail -n 20 "$home/maven.log" >&2
    cannot_have "$name" "Maven could not resolve io.temporal:temporal-test-server:$version (log: $home/maven.log)" \
      "check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml), then run scripts/provision.sh again"
  fi
  # The SDK allows the server 5 s to answer. It starts in about 0.5 s here; the flags keep the JVM
  # lean when it shares two cores with a test run.
  cat >"$target" <<EOF
#!/bin/sh
# Temporal time-skipping test server $version (generated by scripts/provision.sh). Usage: $name PORT
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -cp '$home/lib/*' io.temporal.testserver.TestServer "\$@"
EOF
  chmod +x "$target"
  touch "$stamp"
  say "$name" "installed ($version)"
}

# java_client NAME VERSION SOURCE_DIR ARTIFACT: the runtime dependencies SOURCE_DIR/pom.xml names
# (ARTIFACT at VERSION, from Maven Central) and SOURCE_DIR/*.java compiled against them, into
# $CACHE_DIR/NAME/VERSION/{lib,classes}.
java_client() {
  local name=$1 version=$2 source_dir=$3 artifact=$4 stamp
  local home=$CACHE_DIR/$name/$version
  stamp=$(stamp_file "$name" "$version-$(cat "$source_dir"/pom.xml "$source_dir"/*.java | sha256sum | cut -c1-12)")
  if [[ -f $stamp ]]; then
    say "$name" "cached ($version)"
    return
  fi
  if ! has java || ! has mvn || ! has javac; then
    cannot_have "$name" "java, javac and mvn are needed to build this interoperability client" \
      "install a JDK and Maven (apt-get install default-jdk-headless maven), then run scripts/provision.sh again"
  fi
  mkdir -p "$home" "$STAMP_DIR"
  rm -rf "${home:?}/lib" "${home:?}/classes"
  if ! mvn -B -f "$source_dir/pom.xml" "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$home/lib" >"$home/maven.log" 2>&1; then
    tail -n 20 "$home/maven.log" >&2
    cannot_have "$name" "Maven could not resolve $artifact:$version (log: $home/maven.log)" \
      "check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml), then run scripts/provision.sh again"
  fi
  javac -cp "$home/lib/*" -d "$home/classes" "$source_dir"/*.java
  touch "$stamp"
  say "$name" "installed ($version)"
}

# Eclipse Leshan's LwM2M client, a standard client otaflow did not write, for the interoperability
# test: its jars plus test/unit/lwm2m/leshan/InteropClient.java.
provision_leshan_client() {
  java_client leshan-client "$LESHAN_CLIENT_VERSION" "$PROJECT_DIR/test/unit/lwm2m/leshan" \
    org.eclipse.leshan:leshan-client-cf
}

# Eclipse Californium 3 (CoAP) and Scandium (DTLS with RFC 9146 Connection IDs, which Leshan 1.5's
# Scandium 2 predates), for the Connection ID test: test/interop/californium-dtls/DtlsCidClient.java.
provision_californium_client() {
  java_client californium-client "$CALIFORNIUM_VERSION" "$PROJECT_DIR/test/interop/californium-dtls" \
    org.eclipse.californium:scandium
}

# A Python virtual environment with Eclipse Paho's MQTT client (PyPI), for the interop suite's device
# that speaks only the seed protocol (test/interop/seed-sdk-device/).
provision_paho_mqtt() {
  local name=paho-mqtt version=$PAHO_MQTT_VERSION stamp
  local venv=$CACHE_DIR/python/paho-mqtt-$version
  stamp=$(stamp_file "$name" "$version")
  if [[ -f $stamp && -x $venv/bin/python ]]; then
    say "$name" "cached ($version)"
    return
  fi
  has python3 || cannot_have "$name" "python3 is not installed" \
    "install Python 3.8 or newer with venv (apt-get install python3 python3-venv), then run scripts/provision.sh again"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")" "$STAMP_DIR"
  if ! { python3 -m venv "$venv" && "$venv/bin/python" -m pip install -q "paho-mqtt==$version"; } \
    >"$CACHE_DIR/paho-mqtt.log" 2>&1; then
    tail -n 20 "$CACHE_DIR/paho-mqtt.log" >&2
    cannot_have "$name" "could not create a virtual environment with paho-mqtt==$version (log: $CACHE_DIR/paho-mqtt.log)" \
      "check that PyPI is reachable (pip config list) and python3-venv is installed, then run scripts/provision.sh again"
  fi
  touch "$stamp"
  say "$name" "installed ($version)"
}

# otaflow's Mosquitto plugin (deploy/mosquitto/implicit-subscription/), which gives devices the seed
# platform's implicit subscription to their downlink topics; compiled against Debian's mosquitto-dev.
provision_mosquitto_plugin() {
  local name=mosquitto-plugin source=$PROJECT_DIR/deploy/mosquitto/implicit-subscription/otaflow_implicit_subscription.c
  local target=$CACHE_DIR/mosquitto/otaflow_implicit_subscription.so version stamp
  version=$(sha256sum "$source" | cut -c1-12)
  stamp=$(stamp_file "$name" "$version")
  if [[ -f $stamp && -f $target ]]; then
    say "$name" "cached ($version)"
    return
  fi
  mkdir -p "$(dirname "$target")" "$STAMP_DIR"
  if ! cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$target.tmp" "$source" 2>"$CACHE_DIR/mosquitto-plugin.log"; then
    cat "$CACHE_DIR/mosquitto-plugin.log" >&2
    cannot_have "$name" "cc could not build $source (output above)" \
      "install a C compiler and Mosquitto's headers (apt-get install gcc mosquitto-dev libmosquitto-dev), then run scripts/provision.sh again"
  fi
  mv "$target.tmp" "$target"
  touch "$stamp"
  say "$name" "built ($version)"
}

# apt_packages WHAT CHECK-COMMAND PACKAGE...
apt_packages() {
  local what=$1 check=$2
  shift 2
  if eval "$check"; then
    say "$what" "installed (system)"
    return
  fi
  if [[ $(id -u) -ne 0 ]]; then
    cannot_have "$what" "not installed, and installing system packages needs root" \
      "run: sudo apt-get update && sudo apt-get install -y $*"
  fi
  has apt-get || cannot_have "$what" "not installed, and this is not a Debian-like system (no apt-get)" \
    "install $* with your system's package manager"
  say "$what" "installing with apt-get: $*..."
  # policy-rc.d keeps apt from starting the system services: tests start their own instances.
  local policy=/usr/sbin/policy-rc.d created_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=true
  fi
  local status=0
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; } >"$CACHE_DIR/apt-$what.log" 2>&1 ||
    status=$?
  [[ $created_policy == false ]] || rm -f "$policy"
  if [[ $status -ne 0 ]]; then
    tail -n 20 "$CACHE_DIR/apt-$what.log" >&2
    cannot_have "$what" "apt-get install $* failed (log: $CACHE_DIR/apt-$what.log)" \
      "check that the Debian mirrors are reachable, then run scripts/provision.sh again"
  fi
  say "$what" "installed"
}

# For `npm start` (--runtime) a server given by address in the environment needs no binary; the
# tests always start their own.
uses_external() { [[ $runtime_only == true && -n ${!1:-} ]]; }

mkdir -p "$CACHE_DIR"
if uses_external TEMPORAL_ADDRESS; then
  say temporal "skipped: TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS is used instead"
else
  provision_temporal_cli
fi
if uses_external MINIO_ENDPOINT; then
  say minio "skipped: MINIO_ENDPOINT=$MINIO_ENDPOINT is used instead"
else
  provision_minio
fi
if [[ $runtime_only == true && ${LWM2M_DTLS:-on} == off ]]; then
  say dtls-components "skipped: LWM2M_DTLS=off"
else
  provision_dtls_components
fi
if [[ $runtime_only == true ]]; then
  exit 0
fi
provision_temporal_test_server
provision_temporal_server
provision_chart_tools
provision_leshan_client
provision_californium_client
apt_packages mosquitto '[[ -x /usr/sbin/mosquitto ]] && has mosquitto_passwd' mosquitto mosquitto-clients
apt_packages mosquitto-dev '[[ -f /usr/include/mosquitto_broker.h && -f /usr/include/mosquitto.h ]] && has cc' \
  mosquitto-dev libmosquitto-dev gcc libc6-dev
provision_mosquitto_plugin
provision_paho_mqtt
apt_packages postgresql 'compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null' postgresql
# The console's browser tests (test/browser/) drive Debian's Chromium: Playwright's own browser
# download needs the internet.
apt_packages chromium '[[ -x /usr/bin/chromium ]]' chromium
