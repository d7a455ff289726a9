# The pieces the benchmark scripts share: sourced by `scripts/bench`, `scripts/bench-relay` and
# `scripts/bench-one-connection`, not run. The nginx configurations and the pidfiles go in $WORK.

# Notes the Debian package PACKAGE as needed unless COMMAND is on the PATH.
need() { command -v "$1" >/dev/null 2>&1 || NEED_APT="${NEED_APT:-} $2"; }

# Installs what `need` noted.
install_needed() {
  if [ -n "${NEED_APT:-}" ]; then
    echo "installing:$NEED_APT" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $NEED_APT >/dev/null
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts nginx as the handler on PORT: it answers 200 `{"ok":true}` to every request.
start_handler() {
  cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
error_log $WORK/error.log;
pid $WORK/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/body;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$1;
    location / { return 200 '{"ok":true}'; }
  }
}
CONF
  nginx -p "$WORK" -c "$WORK/nginx.conf"
}

# Starts nginx as a plain reverse proxy on PORT in front of the handler on HANDLER_PORT (no
# capture, no store), in a process of its own as webhook-dev is: webhook-dev's peer.
start_proxy() {
  cat >"$WORK/proxy.conf" <<CONF
worker_processes 1;
error_log $WORK/proxy-error.log;
pid $WORK/proxy.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/proxy-body;
  keepalive_requests 1000000;
  upstream handler { server 127.0.0.1:$2; keepalive 64; }
  server {
    listen 127.0.0.1:$1;
    location / {
      proxy_pass http://handler;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  nginx -p "$WORK" -c "$WORK/proxy.conf"
}

# Stops the handler and the proxy, whichever were started.
stop_nginx() {
  [ -f "$WORK/nginx.conf" ] && nginx -p "$WORK" -c "$WORK/nginx.conf" -s stop 2>/dev/null
  [ -f "$WORK/proxy.conf" ] && nginx -p "$WORK" -c "$WORK/proxy.conf" -s stop 2>/dev/null
  return 0
}

# Writes $WORK/post.lua: wrk POSTs a 1 kB JSON webhook, as a provider would.
write_post_lua() {
  local body
  body=$(python3 -c 'import json; print(json.dumps({"id":"whe_"+"0"*32,"type":"report.delivered","data":{"report_id":"rep_"+"1"*32,"study_id":"stu_"+"2"*32,"is_critical":False,"presigned_url":"https://example.test/r.pdf?sig="+"a"*600,"plain_text":"x"*200}}))')
  cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["webhook-id"] = "msg_bench"
wrk.body = [[$body]]
LUA
}
