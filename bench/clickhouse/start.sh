#!/bin/sh
# Starts Debian's clickhouse-server (apt-get install clickhouse-server) as a plain
# process, without systemd, with its data, logs and config under one directory
# ($1, default /tmp/loggraph-clickhouse), listening on 127.0.0.1 only: HTTP on
# 8123 (what `loggraph bench analytics --clickhouse-url` talks to), native on 9000.
# Stop it with: kill "$(cat DIR/clickhouse.pid)".
set -eu
dir=${1:-/tmp/loggraph-clickhouse}
mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
dir=$(cd "$dir" && pwd)
sed -e "s#/var/lib/clickhouse/#$dir/#g" \
    -e "s#<path>$dir/</path>#<path>$dir/data/</path>#" \
    -e "s#/var/log/clickhouse-server/#$dir/log/#g" \
    -e "s#<listen_host>::1</listen_host>##" \
    /etc/clickhouse-server/config.xml >"$dir/config.xml"
cp /etc/clickhouse-server/users.xml "$dir/users.xml"
cd "$dir"
nohup /usr/sbin/clickhouse-server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
echo $! >"$dir/clickhouse.pid"
i=0
until curl -fsS http://127.0.0.1:8123/ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
        echo "clickhouse-server did not answer on 127.0.0.1:8123; see $dir/log" >&2
        exit 1
    fi
    sleep 0.5
done
echo "clickhouse-server $(curl -fsS 'http://127.0.0.1:8123/?query=SELECT%20version()') on http://127.0.0.1:8123 (pid $(cat "$dir/clickhouse.pid"), dir $dir)"
