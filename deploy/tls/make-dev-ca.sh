#!/usr/bin/env bash
# Makes a development CA and a certificate for each program (and a client
# certificate for the gateway's calls to the backends), valid for 127.0.0.1
# and localhost. Not for production: keys are written unencrypted.
#   deploy/tls/make-dev-ca.sh OUT_DIR
set -euo pipefail
OUT=${1:?usage: make-dev-ca.sh OUT_DIR}
mkdir -p "$OUT"
cd "$OUT"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Counsel dev CA" \
  -keyout ca.key -out ca.pem 2>/dev/null
for name in guidance cases gateway; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=counsel-$name" \
    -keyout "$name.key" -out "$name.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm "$name.csr" "$name.ext"
done
echo "CA and certificates in $OUT"
