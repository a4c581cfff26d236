# eventide's container image: a static binary, CA certificates, user 65532,
# nothing else (no shell). It runs with a read-only root filesystem; the
# spool and dead letters go to /var/lib/eventide, which the Helm chart mounts.
#
# The default (last) stage packs the binary `make build` left in bin/, with
# the version stamped, so the image builds where no Go image can be pulled:
#   make image            (buildah; or `make build` then `docker build .`)
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
COPY bin/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY bin/eventide /usr/local/bin/eventide
USER 65532:65532
EXPOSE 2112
ENTRYPOINT ["/usr/local/bin/eventide"]
CMD ["-conf", "/etc/eventide/config.yaml"]
