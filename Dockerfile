# One image for the operator, dp-agent (the data mover in tool pods) and threescale-dp
# (the 3scale tool's CLI). Build: docker build -t dataprotection .
# The built-in database tools' image (postgres, mariadb, redis: packages/tools) is the same plus
# the database clients: docker build --target db-tools -t dataprotection-db-tools .
# Nothing in the tests needs Docker: the local node runs the same commands as processes.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY packages ./packages
# zstd-napi compiles its native addon here; `npm run build` writes the compiled programs
# (packages/*/dist: operator, dp-agent, threescale-dp, kubectl-dp), which is what the image runs.
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS operator
RUN apt-get update && apt-get install -y --no-install-recommends tar zstd ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/dataprotection
COPY --from=build /src /opt/dataprotection
RUN ln -s /opt/dataprotection/packages/agent/bin/dp-agent /usr/local/bin/dp-agent \
 && ln -s /opt/dataprotection/packages/threescale/bin/threescale-dp /usr/local/bin/threescale-dp \
 && ln -s /opt/dataprotection/packages/cli/bin/kubectl-dp /usr/local/bin/kubectl-dp
USER 65532
# The chart's Deployment runs the same command (packages/tools/src/dockerfile.test.ts checks it).
ENTRYPOINT ["node", "--max-semi-space-size=4", "--heap-growing-percent=15", "/opt/dataprotection/packages/operator/dist/operator.js"]

# Built-in database tools: dp-agent plus the clients their commands run (Debian bookworm's
# PostgreSQL 15, MariaDB 10.11 and Redis 7.0 clients, the versions the e2e tests run against),
# mariadb-backup (mariadb-backup, mbstream), mariadb-server-core (mariadbd alone, no service:
# mariadb-binlog-pitr replays binlogs into a temporary server on the restored data directory) and
# redis-server (redis-rdb-online loads the RDB into a temporary server on a unix socket).
FROM operator AS db-tools
USER root
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client mariadb-client mariadb-backup mariadb-server-core redis-tools redis-server && rm -rf /var/lib/apt/lists/*
USER 65532

# The default target stays the operator image.
FROM operator
