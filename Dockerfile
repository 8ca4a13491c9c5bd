# The ejecta image used by compose.yaml. Builders additionally need the host's
# containerd socket, Rust toolchains and crate sources (see compose.yaml).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /ejecta ./cmd/ejecta

FROM debian:bookworm-slim
COPY --from=build /ejecta /usr/local/bin/ejecta
ENTRYPOINT ["/usr/local/bin/ejecta"]
