# Ferry: one static-ish binary for every verb (operator, worker, run, precheck, crd).
# Cannot be built on the development machine (no Docker engine there); kept correct on paper.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked && strip target/release/ferry

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/ferry /usr/local/bin/ferry
# The restricted security context the operator gives worker Pods: non-root, read-only root
# filesystem; nothing is written outside the process.
USER 65532:65532
EXPOSE 9187
ENTRYPOINT ["/usr/local/bin/ferry"]
CMD ["--help"]
