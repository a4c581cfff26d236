# The two commands a newcomer runs:
#   make demo   eventide on a local control plane with a stream of realistic events
#   make test   every test, against a real kube-apiserver + etcd (built once, cached)
# and the inner loop while changing code:
#   make unit   every test that needs only Go (no control plane, node, rsyslog, helm, buildah)
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

IMAGE ?= eventide:$(VERSION)

.PHONY: test unit demo bench build image tools control-plane vet screenshots

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/eventide .

# The container image (Dockerfile) around bin/eventide, built with buildah
# (no Docker daemon needed); `docker build .` after `make build` works too.
image: build
	cp /etc/ssl/certs/ca-certificates.crt bin/ca-certificates.crt
	buildah --storage-driver vfs bud --isolation chroot --layers=false -t $(IMAGE) .

# helm and buildah for the chart and image tests (built once, cached).
tools:
	bash hack/build-tools.sh >/dev/null

control-plane:
	bash hack/build-control-plane.sh >/dev/null

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

# The second go test runs the allocation tests without -race: the race
# detector allocates, so counts are only true without it.
test: control-plane tools vet
	$(GO) test -count=1 -race -timeout 20m ./...
	$(GO) test -count=1 -run 'NotAllocate' ./pkg/...

# Tests that need a server outside Go call testenv.Outside, which skips
# them here; the end-to-end tests need the control plane.
unit:
	EVENTIDE_UNIT=1 $(GO) test -count=1 $$($(GO) list ./... | grep -v /internal/e2e)

demo: control-plane
	$(GO) run ./internal/cmd/demo

# The status page's screenshots README shows, rendered by Debian's
# chromium-headless-shell (installed by `make tools`).
screenshots: tools
	$(GO) test -count=1 -run TestScreenshots ./internal/statuspage/ -args -screenshots=$(CURDIR)/docs/screenshots

# End-to-end benchmark against the local control plane; see README.
bench: control-plane build
	$(GO) run ./internal/cmd/bench -eventide bin/eventide
