#!/usr/bin/env bash
# CI: launch a workflow on Flyte, wait for it, and use one of its outputs.
# Needs flyrun and jq on PATH, .flyte/ci.yaml (config-examples/client-secret-ci.yaml) in the repository,
# and the client secret in $FLYTE_CLIENT_SECRET (a CI secret: never written to disk, never printed).
set -euo pipefail
export FLYRUN_CONFIG=.flyte/ci.yaml

flyrun auth status > /dev/null   # signs in with the client secret; a wrong one stops the job here (exit 4)

set +e
flyrun run --remote --wait --timeout 1800 -o json workflows/hello.py wf --x 3 > run.json
code=$?
set -e
case $code in
  0) ;;
  6) echo "the workflow failed: $(jq -r .error run.json)" >&2; exit 1 ;;
  7) echo "still running after 30 minutes: $(jq -r .execution.url run.json)" >&2; exit 1 ;;
  *) exit $code ;;   # 2 bad input, 3 configuration, 4 sign-in, 5 server or network
esac

answer=$(jq -r '.outputs.o0' run.json)
echo "execution $(jq -r .execution.name run.json) said: $answer"
