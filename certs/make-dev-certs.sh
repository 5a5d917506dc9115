#!/usr/bin/env bash
# Throw-away CA + server certificate for localhost (development and tests only).
# usage: make-dev-certs.sh [OUTDIR]   (default: certs/dev next to this script)
set -euo pipefail
out="${1:-$(dirname "$0")/dev}"
mkdir -p "$out"
cd "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=auth-server dev CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=localhost" -keyout server-key.pem -out server.csr 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
  -extfile ext.cnf -out server.pem 2>/dev/null
rm -f server.csr ext.cnf ca.srl
rm -f ca-key.pem
echo "wrote $out/{ca.pem,server.pem,server-key.pem}"
