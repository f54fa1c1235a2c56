# syntax=docker/dockerfile:1
# Sightline sensor and gateway image: one image, the mode is the first argument (`sensor` or `gateway`).

# --- build: BPF object (clang, libbpf, bpftool), the libbpf N-API addon (node-gyp) and the TypeScript ---
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make g++ python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# Install scripts run later, once the sources they compile are present.
RUN npm ci --ignore-scripts
COPY . .
# better-sqlite3 (the local store of `sightline sensor` without a gateway) compiles its SQLite here.
RUN npm rebuild better-sqlite3 \
 && npm run build \
 && npm prune --omit=dev

# --- runtime: node, the shared libraries the addon links against, and the build outputs only ---
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/sightline
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bpf/build/ ./bpf/build/
COPY --from=build /src/bpf/addon/build/Release/ ./bpf/addon/build/Release/
# The gateway runs as this user; the sensor overrides it with uid 0 because loading BPF needs it.
RUN groupadd --system --gid 10001 sightline && useradd --system --uid 10001 --gid sightline --no-create-home sightline
USER 10001
EXPOSE 4318 9464
# --max-semi-space-size: see bin/sightline.js.
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/bin/sightline.js"]
CMD ["--help"]
