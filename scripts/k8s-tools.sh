#!/usr/bin/env bash
# Builds the test control plane from the Go module proxy, pinned: etcd, kube-apiserver,
# kube-controller-manager, kubectl (Kubernetes $K8S_VERSION) and helm. No download site is
# needed: every source comes from the module proxy. The binaries land in
#   $FERRY_CACHE_DIR/k8s-tools/<versions>/bin   (default FERRY_CACHE_DIR: <repo>/.cache)
# and are reused when present, so only the first run pays for the build (about 15 minutes on
# 2 cores). Prints the bin directory on its last line.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
K8S_VERSION=1.34.4
ETCD_VERSION=3.6.16
HELM_VERSION=4.3.1
cache=${FERRY_CACHE_DIR:-$root/.cache}
home=$cache/k8s-tools/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION
bin=$home/bin
tools=(etcd kube-apiserver kube-controller-manager kubectl helm)

have_all() { for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done; }
if have_all; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "go not found: install Go 1.24 or newer" >&2; exit 1; }
mkdir -p "$bin" "$home/src"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
build_flags=(-trimpath -ldflags "-s -w")

# Kubernetes: k8s.io/kubernetes replaces its staging modules with ./staging paths, which a
# module outside its tree cannot follow; pin each to its published v0 twin instead.
src=$home/src/kubernetes
mkdir -p "$src"
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap
  code-generator component-base component-helpers controller-manager cri-api cri-client csi-translation-lib
  dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy
  kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin
  sample-controller)
{
  echo "module ferry.dev/k8s-tools"
  echo
  echo "go 1.24.0"
  echo
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m v0.${K8S_VERSION#1.}"; done
  echo ")"
} >"$src/go.mod"
cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
(
  cd "$src"
  go mod tidy
  for t in kube-apiserver kube-controller-manager kubectl; do
    [ -x "$bin/$t" ] && continue
    echo "building $t v$K8S_VERSION" >&2
    go build "${build_flags[@]}" -o "$bin/$t" "k8s.io/kubernetes/cmd/$t"
  done
)

# etcd: its server module has no main package of its own to install; a two-line wrapper.
src=$home/src/etcd
mkdir -p "$src"
cat >"$src/go.mod" <<EOF
module ferry.dev/etcd

go 1.24.0

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
EOF
cat >"$src/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
(
  cd "$src"
  go mod tidy
  [ -x "$bin/etcd" ] || { echo "building etcd v$ETCD_VERSION" >&2; go build "${build_flags[@]}" -o "$bin/etcd" .; }
)

# helm.
src=$home/src/helm
mkdir -p "$src"
cat >"$src/go.mod" <<EOF
module ferry.dev/helm

go 1.24.0

require helm.sh/helm/v4 v$HELM_VERSION
EOF
cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import _ "helm.sh/helm/v4/cmd/helm"
EOF
(
  cd "$src"
  go mod tidy
  [ -x "$bin/helm" ] || { echo "building helm v$HELM_VERSION" >&2; go build "${build_flags[@]}" -o "$bin/helm" helm.sh/helm/v4/cmd/helm; }
)

have_all || { echo "the control-plane tools are incomplete in $bin" >&2; exit 1; }
echo "$bin"
