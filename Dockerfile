# The ejecta image: the static binary, CA certificates (S3 and registries
# over https) and a user without privileges, on nothing else (FROM
# scratch). compose.yaml runs every component from it.
#
#   docker build --build-arg VERSION="$(git describe --always --dirty)" -t ejecta:latest .
#
# Where golang's image cannot be pulled (no registry reachable), `make
# image` builds the same files on the host and hands them to the
# `prebuilt` stage; BuildKit then never touches the `compile` stage.
ARG EJECTA_FILES=compile

# compile: everything the image holds, built from source, under /files.
FROM golang:1.26-bookworm AS compile
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${VERSION}" -o /files/usr/local/bin/ejecta ./cmd/ejecta \
	&& cp -r deploy/image/etc /files/etc \
	&& mkdir -p /files/etc/ssl/certs /files/tmp && chmod 1777 /files/tmp \
	&& cp /etc/ssl/certs/ca-certificates.crt /files/etc/ssl/certs/

# prebuilt: the same files, made by `make image` in the build context.
FROM scratch AS prebuilt
COPY files/ /files/

FROM ${EJECTA_FILES} AS files

FROM scratch
COPY --from=files /files/ /
# Every component but the builder runs as this user; the builder runs as
# root (compose.yaml: user "0:0") to own job dirs and set cgroup limits.
USER 65532:65532
ARG VERSION=
LABEL org.opencontainers.image.title="ejecta" \
	org.opencontainers.image.description="ejecta: a build farm for Rust compiler regression testing" \
	org.opencontainers.image.version="${VERSION}"
ENTRYPOINT ["/usr/local/bin/ejecta"]
