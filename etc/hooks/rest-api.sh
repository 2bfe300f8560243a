#!/bin/sh
# rest-api.sh: an mkpd provisioning hook that hands every event to the
# seller's own REST API.
#
# mkpd runs the hook as `HOOK EVENT` with a JSON document on stdin:
#   {"event":"create","instance":{...},"order":{...},"buyer":{...}}
# (event: create, renew, upgrade, freeze, unfreeze, release). This script
# POSTs the document to $SELLER_API_URL/marketplace/EVENT and, for create,
# prints the API's answer, which must be the buyer's access data:
#   {"frontEndUrl":"https://...","adminUrl":"...","userName":"...","password":"...","memo":"..."}
# A non-zero exit (the API answered an error, or did not answer) makes mkpd
# retry the job later; what this script writes to stderr is kept on the job.
#
# Set SELLER_API_URL (and SELLER_API_TOKEN if your API wants a bearer
# token) in a file the hook reads, since mkpd gives hooks a bare
# environment: /etc/mkpd/hook.env by default (HOOK_ENV overrides).
set -eu

env_file=${HOOK_ENV:-/etc/mkpd/hook.env}
# shellcheck disable=SC1090
[ -r "$env_file" ] && . "$env_file"
: "${SELLER_API_URL:?SELLER_API_URL is not set (see $env_file)}"

event=${1:?usage: rest-api.sh EVENT < document.json}
case $event in
create|renew|upgrade|freeze|unfreeze|release|quota_low|exhausted|resumed) ;;
*) echo "rest-api.sh: unknown event '$event'" >&2; exit 2 ;;
esac

answer=$(curl --silent --show-error --fail-with-body --max-time 20 \
	--header 'Content-Type: application/json' \
	${SELLER_API_TOKEN:+--header "Authorization: Bearer $SELLER_API_TOKEN"} \
	--data-binary @- "$SELLER_API_URL/marketplace/$event") || {
	echo "rest-api.sh: $SELLER_API_URL/marketplace/$event failed: $answer" >&2
	exit 1
}
if [ "$event" = create ]; then
	printf '%s\n' "$answer"
fi
