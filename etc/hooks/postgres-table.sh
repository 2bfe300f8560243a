#!/bin/sh
# postgres-table.sh: an mkpd provisioning hook that records every event in
# a table of the seller's own PostgreSQL database, where the seller's
# application picks it up, and answers create with access data of its own.
#
# The seller's table (create it once):
#   CREATE TABLE marketplace_event (
#       id          bigserial PRIMARY KEY,
#       instance_id text NOT NULL,
#       event       text NOT NULL,
#       document    jsonb NOT NULL,
#       received_at timestamptz NOT NULL DEFAULT now()
#   );
# Set SELLER_DSN (a libpq connection string) and SELLER_URL (the buyer's
# front page, "{instanceId}" is replaced) in /etc/mkpd/hook.env (HOOK_ENV
# overrides). The insert is idempotent per instance and event document, so
# a retried job does not record an event twice.
set -eu

env_file=${HOOK_ENV:-/etc/mkpd/hook.env}
# shellcheck disable=SC1090
[ -r "$env_file" ] && . "$env_file"
: "${SELLER_DSN:?SELLER_DSN is not set (see $env_file)}"

event=${1:?usage: postgres-table.sh EVENT < document.json}
document=$(cat)

# psql variables are quoted by psql itself (:'name'), never by the shell.
instance_id=$(psql "$SELLER_DSN" -X -q -A -t -v ON_ERROR_STOP=1 \
	-v doc="$document" -v event="$event" <<'SQL'
INSERT INTO marketplace_event (instance_id, event, document)
SELECT (:'doc'::jsonb)->'instance'->>'instanceId', :'event', :'doc'::jsonb
WHERE NOT EXISTS (SELECT 1 FROM marketplace_event
                   WHERE event = :'event' AND document = :'doc'::jsonb);
SELECT (:'doc'::jsonb)->'instance'->>'instanceId';
SQL
)

if [ "$event" = create ]; then
	template=${SELLER_URL:-'https://app.example.com/{instanceId}'}
	url=$(printf '%s' "$template" | sed "s/{instanceId}/$instance_id/")
	password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-14)
	printf '{"frontEndUrl":"%s","userName":"admin","password":"%sA1@"}\n' "$url" "$password"
fi
