# syntax=docker/dockerfile:1
# Build stage: a static binary (no cgo), modules cached in their own layer.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/loggraph ./cmd/loggraph

# Run stage: distroless, no shell, runs as the unprivileged "nonroot" user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/loggraph /usr/local/bin/loggraph
USER nonroot:nonroot
EXPOSE 8080
ENV LOGGRAPH_ADDR=:8080
ENTRYPOINT ["/usr/local/bin/loggraph"]
CMD ["serve"]
