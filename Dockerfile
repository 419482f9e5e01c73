# One image for the operator, dp-agent (the data mover in tool pods) and threescale-dp
# (the 3scale tool's CLI). Build: docker build -t dataprotection .
# Nothing in the tests needs Docker: the local node runs the same commands as processes.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY packages ./packages
# zstd-napi compiles its native addon here; tsx runs the TypeScript sources.
RUN npm ci --no-audit --no-fund && npm run build -w @dataprotection/agent && npm prune --omit=dev --no-audit --no-fund && npm install --no-save --no-audit --no-fund tsx

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tar zstd ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/dataprotection
COPY --from=build /src /opt/dataprotection
RUN ln -s /opt/dataprotection/packages/agent/bin/dp-agent /usr/local/bin/dp-agent \
 && ln -s /opt/dataprotection/packages/threescale/bin/threescale-dp /usr/local/bin/threescale-dp
USER 65532
ENTRYPOINT ["node", "--import", "tsx", "/opt/dataprotection/packages/controllers/src/main.ts"]
