# syntax=docker/dockerfile:1

# Build a static binary: no cgo, so it runs on distroless/static (no libc).
FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so source edits reuse the module layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The release version: see adapters/buildinfo.LdflagsPath. Empty, the binary says devel
# (.git is not in the build context, so without it there is no revision either).
ARG VERSION=
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w -X github.com/scim-rotator/scim-rotator/adapters/buildinfo.Version=${VERSION}" \
      -o /out/scim-rotator ./cmd/scim-rotator

# The binary only: no shell, no package manager, CA certificates and tzdata
# come with the base image.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/scim-rotator /scim-rotator
# Same UID/GID the Helm chart sets (runAsUser/runAsGroup 65532).
USER 65532:65532
ENTRYPOINT ["/scim-rotator"]
