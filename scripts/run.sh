#!/usr/bin/env bash
# Command 1 of the README: set up, build, and start voipd in the foreground on
# its embedded default (the sandbox simulator on 127.0.0.1:50051, history in
# build/state). Extra
# arguments go to voipd, e.g. scripts/run.sh --config config/voipd.example.yaml
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
VOIPD_BUILD_TESTS=OFF "$root/scripts/build.sh" -DVOIPD_BUILD_TESTS=OFF
echo "voipd: starting; in another terminal try: build/clients/voipctl/voipctl call +12015550100 --watch"
# On the embedded default, keep call history across restarts in build/state;
# a config file (or --state-dir) decides for itself.
case " $* " in
  *" --state-dir"* | *" --config"* | *" -c "*) exec "$root/build/daemon/voipd" "$@" ;;
  *) exec "$root/build/daemon/voipd" --state-dir "$root/build/state" "$@" ;;
esac
