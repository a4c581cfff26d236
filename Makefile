# The two commands a newcomer runs:
#   make demo   eventide on a local control plane with a stream of realistic events
#   make test   every test, against a real kube-apiserver + etcd (built once, cached)
# and the inner loop while changing code:
#   make unit   every test that needs only Go (no control plane, node, rsyslog, helm, buildah)
GO ?= go
# Versions come from git tags (v1.2.3); images are tagged without the v, as
# the chart's appVersion is.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_TAG ?= $(patsubst v%,%,$(VERSION))
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
CREATED ?= $(shell git log -1 --format=%cI 2>/dev/null)
ARCH ?= $(shell $(GO) env GOARCH)
IMAGE ?= eventide:$(IMAGE_TAG)
LDFLAGS = -s -w -X main.version=$(VERSION)
# The revision and build date come from Go's VCS stamp: asked for
# explicitly, since GOFLAGS may turn it off (off too outside a checkout).
BUILDVCS ?= $(if $(wildcard .git),true,false)
GOBUILD = CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=$(BUILDVCS) -ldflags "$(LDFLAGS)"
BUILDAH = buildah --storage-driver vfs
IMAGE_ARGS = --isolation chroot --layers=false --build-arg VERSION=$(IMAGE_TAG) --build-arg REVISION=$(REVISION) --build-arg CREATED=$(CREATED)

.PHONY: test unit demo bench build image image-multiarch release-snapshot lint-workflows tools control-plane vet screenshots FORCE

build:
	$(GOBUILD) -o bin/eventide .

# A static linux binary per architecture, for the images.
bin/linux-%/eventide: FORCE
	GOOS=linux GOARCH=$* $(GOBUILD) -o $@ .

bin/ca-certificates.crt:
	cp /etc/ssl/certs/ca-certificates.crt $@

# The container image (Dockerfile) for this machine's architecture, built
# with buildah (no Docker daemon needed).
image: bin/linux-$(ARCH)/eventide bin/ca-certificates.crt
	$(BUILDAH) bud $(IMAGE_ARGS) --platform linux/$(ARCH) -t $(IMAGE) .

# The image for linux/amd64 and linux/arm64 without emulation (the
# Dockerfile's last stage has no RUN): one manifest list, written with both
# images to dist/eventide_$(IMAGE_TAG)_oci.tar, and each architecture's
# image to dist/eventide_$(IMAGE_TAG)_linux_<arch>.tar (oci-archive:, for
# `skopeo copy` or `podman load`). The arm64 build compiles the standard
# library and every module for arm64: about 10 minutes the first time.
image-multiarch: bin/linux-amd64/eventide bin/linux-arm64/eventide bin/ca-certificates.crt
	mkdir -p dist
	-$(BUILDAH) manifest rm $(IMAGE) >/dev/null 2>&1
	$(BUILDAH) manifest create $(IMAGE)
	for arch in amd64 arm64; do \
		$(BUILDAH) bud $(IMAGE_ARGS) --platform linux/$$arch --manifest $(IMAGE) -t $(IMAGE)-$$arch . && \
		$(BUILDAH) push $(IMAGE)-$$arch oci-archive:dist/eventide_$(IMAGE_TAG)_linux_$$arch.tar || exit 1; \
	done
	$(BUILDAH) manifest push --all $(IMAGE) oci-archive:dist/eventide_$(IMAGE_TAG)_oci.tar

# Everything a release publishes, built locally and checked (nothing is
# pushed): goreleaser (built once into the tools cache, about 9 minutes)
# makes the binaries for linux and darwin, archives, checksums and SBOMs in
# dist/. Not part of `make test`: a cold goreleaser build and a cold arm64
# build would not fit CI's budget. A tag (v1.2.3) releases; see
# .github/workflows/release.yml.
release-snapshot:
	bin=$$(bash hack/build-tools.sh --release | tail -1) && PATH="$$bin:$$PATH" goreleaser release --snapshot --clean --skip=docker,ko

# The GitHub workflows, checked offline (actionlint, built into the tools
# cache).
lint-workflows: tools
	bin=$$(bash hack/build-tools.sh | tail -1) && "$$bin/actionlint"

# helm, actionlint and buildah for the chart, workflow and image tests (built
# once, cached).
tools:
	bash hack/build-tools.sh >/dev/null

control-plane:
	bash hack/build-control-plane.sh >/dev/null

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

# The second go test runs the allocation tests without -race: the race
# detector allocates, so counts are only true without it.
test: control-plane tools vet lint-workflows
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
