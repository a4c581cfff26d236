# eventide's container image: a static binary, CA certificates, user 65532,
# nothing else (no shell). It runs with a read-only root filesystem; the
# spool and dead letters go to /var/lib/eventide, which the Helm chart mounts.
#
# The default (last) stage packs a binary built beforehand for the target
# architecture, bin/linux-<arch>/eventide, with the version stamped, so the
# image builds where no Go image can be pulled and needs no emulation for
# another architecture (no RUN in that stage):
#   make image             this machine's architecture (buildah)
#   make image-multiarch   linux/amd64 and linux/arm64, as OCI archives
# (`docker buildx build --platform linux/amd64,linux/arm64 .` after
# `make bin/linux-amd64/eventide bin/linux-arm64/eventide` works too: buildx
# and buildah set TARGETARCH from --platform.)
# To compile inside the build instead, pick the from-source stage:
#   docker build --target from-source --build-arg VERSION=v1.2.3 .
# Base images are build arguments, for registries behind a mirror.
# (A stage chosen by a build argument, FROM ${ARG}, would read better, but
# buildah 1.28 cannot resolve it; a target works with both.)
ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=scratch

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/eventide . && \
    cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

FROM ${BASE_IMAGE} AS from-source
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/eventide /usr/local/bin/eventide
USER 65532:65532
EXPOSE 2112
ENTRYPOINT ["/usr/local/bin/eventide"]
CMD ["-conf", "/etc/eventide/config.yaml"]

FROM ${BASE_IMAGE} AS prebuilt
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=""
LABEL org.opencontainers.image.title="eventide" \
      org.opencontainers.image.description="Routes Kubernetes Events to Slack, Opsgenie, webhooks and more, without losing any." \
      org.opencontainers.image.source="https://github.com/eventide/eventide" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY bin/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY bin/linux-${TARGETARCH}/eventide /usr/local/bin/eventide
USER 65532:65532
EXPOSE 2112
ENTRYPOINT ["/usr/local/bin/eventide"]
CMD ["-conf", "/etc/eventide/config.yaml"]
