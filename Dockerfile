# Multi-stage build: compile with the Rust toolchain, run as a non-root user on a slim base.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin portcullis

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/portcullis --create-home portcullis
COPY --from=build /src/target/release/portcullis /usr/local/bin/portcullis
COPY config/portcullis.yaml /etc/portcullis/portcullis.yaml
WORKDIR /var/lib/portcullis
USER portcullis
# Inside a container the listeners must bind all interfaces; publish 9090 only privately.
ENV PORTCULLIS_LISTEN=0.0.0.0:8080 \
    PORTCULLIS_ADMIN_LISTEN=0.0.0.0:9090
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
