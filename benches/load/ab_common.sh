# Sourced by the A/B scripts (bare_ab.sh, key_ab.sh): a work directory, free ports, and the
# fixed nginx upstream every proxy under test forwards to.
work=$(mktemp -d); export PATH=$PATH:/usr/sbin
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts nginx answering 200 "ok" on 127.0.0.1:$UP; sets UP and UPP (its pid).
start_upstream() {
  UP=$(port)
  cat > $work/up.conf <<N
worker_processes 1; daemon off; master_process off; pid $work/up.pid; error_log $work/up.err warn;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:$UP; location / { return 200 "ok\n"; } } }
N
  nginx -p $work -c $work/up.conf & UPP=$!
}
