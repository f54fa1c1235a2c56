# syntax=docker/dockerfile:1
# Sightline sensor and gateway image: one image, the mode is the first argument (`sensor` or `gateway`).
# It ships the CLI bundled into one file (scripts/bundle-runtime.ts), the libbpf addon and the BPF objects:
# no node_modules, no CDK libraries. The bundle targets Node.js 20.19, so it runs on this LTS and on older hosts.

# --- build: BPF objects (clang, libbpf, bpftool), the libbpf N-API addon (node-gyp) and the bundle (esbuild) ---
FROM node:24-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libvectorscan-dev make g++ python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# Install scripts run later, once the sources they compile are present.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# better-sqlite3 (the local store of `sightline sensor` without a gateway) compiles its SQLite here; the UI's
# front end is bundled into dist/ui, which the runtime bundle carries.
RUN npm rebuild better-sqlite3 \
 && npm run build:bpf \
 && npm run build:ui \
 && npx tsx scripts/bundle-runtime.ts --out /runtime

# --- runtime: node, the shared libraries the addon links against, and the bundle only ---
FROM node:24-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g libvectorscan5 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/sightline
ENV NODE_ENV=production
# Two malloc arenas instead of one per thread: see bin/sightline.js.
ENV MALLOC_ARENA_MAX=2
COPY --from=build /runtime/ ./
# The gateway runs as this user; the sensor overrides it with uid 0 because loading BPF needs it.
RUN groupadd --system --gid 10001 sightline && useradd --system --uid 10001 --gid sightline --no-create-home sightline
USER 10001
EXPOSE 4318 9464
# --max-semi-space-size, --no-allocation-site-pretenuring: see bin/sightline.js.
ENTRYPOINT ["node", "--max-semi-space-size=4", "--no-allocation-site-pretenuring", "dist/sightline.js"]
CMD ["--help"]
