# Relay's container image, in the GoReleaser style: the binary is built
# outside the image and copied in, so the image holds nothing else (no shell,
# no package manager, no libc). The build context must contain:
#
#   relay                 the static binary:
#                           CGO_ENABLED=0 go build -trimpath -o relay ./cmd/relay
#   ca-certificates.crt   the CA bundle Relay verifies providers' and
#                         destinations' TLS certificates with, copied from the
#                         build host: cp /etc/ssl/certs/ca-certificates.crt .
#                         (Debian/Ubuntu/Alpine path; /etc/pki/tls/certs/ca-bundle.crt on RHEL)
#   deploy/docker/rootfs/ the /data directory, owned by the runtime user and 0700
#                         (serve refuses a data dir others may read)
#
# COPY --chmod needs BuildKit (the default builder since Docker 23); no
# "# syntax=" line, so that building pulls nothing (FROM scratch is no image).
#
# Build and run (see docs/operations.md):
#   docker build -t relay .
#   docker run -d -p 8080:8080 -v relay-data:/data relay
FROM scratch

COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chmod=0555 relay /relay
COPY --chown=65532:65532 --chmod=0700 deploy/docker/rootfs/ /

# A numeric user: scratch has no /etc/passwd to look a name up in.
USER 65532:65532

ENV RELAY_DATA_DIR=/data \
    RELAY_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/relay", "healthcheck"]

ENTRYPOINT ["/relay"]
CMD ["serve"]
