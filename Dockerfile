# The Portcullis image. Where a registry is reachable:
#   docker build -t portcullis .        (or: podman build --format docker -t portcullis .)
# compiles in the Rust image and runs on Debian's slim image, as an unprivileged user, with a
# read-only root filesystem possible (state under the volume /var/lib/portcullis).
# Without a registry (CI here), deploy/container/build.sh makes the base image itself
# (debootstrap) under the name the runtime stage uses and builds the runtime stage around the
# binary `cargo build --release` made: `--build-arg BINARY=prebuilt`.
#
# Base images are pinned by tag (the Debian tag is a dated snapshot); the binary is built on
# the same Debian release it runs on (glibc).

ARG BINARY=build

FROM docker.io/library/rust:1.95.0-bookworm AS build
# DL3008 (pin apt versions) is ignored: the dated base pins the Debian release, and pinning a
# package version breaks the build as soon as a security update replaces it in the archive.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin portcullis

# A binary built outside the image (deploy/container/build.sh: the context holds only it).
FROM scratch AS prebuilt
COPY target/release/portcullis /src/target/release/portcullis

# The stage the binary comes from: `build` by default. DL3006 (tag the image) is ignored: this
# names one of the stages above, not an image.
# hadolint ignore=DL3006
FROM ${BINARY} AS binary

FROM docker.io/library/debian:bookworm-20250811-slim AS runtime
# ca-certificates for outgoing TLS (OIDC providers, SMTP); a base that has them already
# (build.sh's) needs no package index. The user owns only its state directory. DL3008 is
# ignored for the reason given in the build stage.
# hadolint ignore=DL3008
RUN if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && useradd --system --uid 10001 --user-group --no-create-home \
      --home-dir /var/lib/portcullis --shell /usr/sbin/nologin portcullis \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/portcullis \
 && rm -rf /var/cache/apt/* /var/log/apt /var/log/dpkg.log /root/.bash_history
COPY --from=binary /src/target/release/portcullis /usr/local/bin/portcullis
COPY deploy/container/portcullis.yaml /etc/portcullis/portcullis.yaml
WORKDIR /var/lib/portcullis
USER 10001:10001
VOLUME ["/var/lib/portcullis"]
# Secrets come from the environment or from files: PORTCULLIS_JWT_SECRET or
# PORTCULLIS_JWT_SECRET_FILE, and the same for PORTCULLIS_DATABASE_URL,
# PORTCULLIS_SMTP_PASSWORD, PORTCULLIS_ADMIN_PASSWORD and `${NAME}` settings in the config.
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
# The admin listener's /healthz, asked by the binary itself (the image has no curl).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["portcullis", "health", "--config", "/etc/portcullis/portcullis.yaml"]
ENTRYPOINT ["portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
