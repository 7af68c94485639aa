# A Dockerfile that deploy/dockerfile_test.go must reject on every count (TestDockerfileChecksRejectBrokenDockerfile).
FROM golang:latest AS build
WORKDIR /src
COPY . .
RUN go build -o /out/projector ./projector && \
    CGO_ENABLED=0 go build -o /out/tool ./nowhere

FROM debian
COPY --from=build /out/projector /usr/local/bin/
COPY --from=build /out/tool /opt/tool
USER root
CMD projector run
