/** The image that carries dp-agent (the operator's image; Dockerfile, default target). */
export const AGENT_IMAGE = "ghcr.io/dataprotection/operator:0.1.0";

/** dp-agent plus the PostgreSQL, MariaDB and Redis clients, mariadb-backup and mariadbd for binlog replay (Dockerfile, target db-tools). */
export const DB_TOOLS_IMAGE = "ghcr.io/dataprotection/db-tools:0.1.0";
