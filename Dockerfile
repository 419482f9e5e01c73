# One image for the operator and for dp-agent (the data mover in tool pods).
# Build: docker build -t dataprotection .   (nothing in the tests needs Docker)
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY packages ./packages
RUN npm ci --omit=dev --ignore-scripts=false && npm install --no-save tsx

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tar zstd ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/dataprotection
COPY --from=build /src /opt/dataprotection
RUN printf '#!/bin/sh\nexec node --import tsx /opt/dataprotection/packages/agent/src/main.ts "$@"\n' > /usr/local/bin/dp-agent && chmod +x /usr/local/bin/dp-agent
USER 65532
ENTRYPOINT ["node", "--import", "tsx", "/opt/dataprotection/packages/controllers/src/main.ts"]
