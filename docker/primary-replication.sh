#!/bin/sh
# Run once by the postgres image when it creates the primary's data folder (docker compose's
# `scale` profile): let the `replica` service stream from it.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
