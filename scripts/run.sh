#!/usr/bin/env bash
# Installs what is missing, builds Plexus (release), and starts a development relay on
# 127.0.0.1:55555 and [::1]:55555 in the foreground. Ctrl-C stops it gracefully.
#   PLEXUS_PORT=56000 scripts/run.sh     # another port
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

port="${PLEXUS_PORT:-55555}"
swift build -c release --product plexus
bin="$(swift build -c release --show-bin-path)/plexus"

"$bin" relay --dev --port "$port" &
relay_pid=$!
trap 'kill -TERM "$relay_pid" 2>/dev/null; wait "$relay_pid" 2>/dev/null' INT TERM

for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$relay_pid" 2>/dev/null || { echo "the relay exited; see its log above" >&2; exit 1; }
    sleep 0.1
done

cat <<TXT

Plexus relay running on 127.0.0.1:$port (pid $relay_pid). Try it from another terminal:

  $bin serve echo --echo --port $port &          # a service in cluster "echo"
  $bin request echo "hello" --port $port          # → hello
  $bin subscribe news --port $port &             # prints events
  $bin publish news "extra!" --port $port
  $bin broadcast echo "to every member" --port $port
  $bin status                                    # what this relay sees of the overlay
  $bin check                                     # exit 0: healthy and ready
  curl -s -H "Authorization: Bearer \$(cat ~/.plexus/http-55580.token)" http://127.0.0.1:55580/metrics   # Prometheus metrics
  open http://127.0.0.1:55580/?token=\$(cat ~/.plexus/http-55580.token) once in a browser: the dashboard

Press Ctrl-C to stop the relay.
TXT
wait "$relay_pid"
