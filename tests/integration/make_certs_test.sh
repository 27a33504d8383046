#!/usr/bin/env bash
# Tests scripts/make-certs.sh with openssl: the CA and node certificates verify against the
# truststore, carry the node principal (CN=strand-node-<id>) and the subject alternative names
# hostname verification needs, keys match their certificates, --days 0 makes an expired
# certificate, --keep-ca reuses the CA (a new CA does not verify the old certificates), and
# usage errors exit 2.
set -euo pipefail
SCRIPT=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

bash "$SCRIPT" --dir "$WORK/a" --nodes 1,101 --clients alice --hosts broker-0.strand,10.0.0.5 >/dev/null
for f in ca.pem truststore.pem node-1.pem node-101.pem client-alice.pem; do
  [[ -s $WORK/a/$f ]] || fail "$f missing"
done
[[ $(stat -c %a "$WORK/a/node-1.pem") == 600 ]] || fail "node-1.pem is readable by others"
openssl verify -CAfile "$WORK/a/truststore.pem" "$WORK/a/node-101.pem" >/dev/null || fail "node-101 does not verify"
openssl verify -CAfile "$WORK/a/truststore.pem" "$WORK/a/client-alice.pem" >/dev/null || fail "client does not verify"
subject=$(openssl x509 -in "$WORK/a/node-101.pem" -noout -subject -nameopt RFC2253)
[[ $subject == "subject=O=Strand,CN=strand-node-101" ]] || fail "node subject: $subject"
san=$(openssl x509 -in "$WORK/a/node-1.pem" -noout -ext subjectAltName)
for want in "DNS:localhost" "IP Address:127.0.0.1" "DNS:broker-0.strand" "IP Address:10.0.0.5"; do
  [[ $san == *"$want"* ]] || fail "SAN lacks $want: $san"
done
# The key in the file is the certificate's.
[[ $(openssl pkey -in "$WORK/a/node-1.pem" -pubout) == $(openssl x509 -in "$WORK/a/node-1.pem" -noout -pubkey) ]] ||
  fail "node-1.pem: key and certificate do not match"

bash "$SCRIPT" --dir "$WORK/a" --nodes 2 --days 0 --keep-ca >/dev/null
out=$(openssl verify -CAfile "$WORK/a/truststore.pem" "$WORK/a/node-2.pem" 2>&1) && fail "an expired certificate verified"
[[ $out == *"expired"* ]] || fail "--days 0: $out"
openssl verify -CAfile "$WORK/a/truststore.pem" "$WORK/a/node-1.pem" >/dev/null || fail "--keep-ca replaced the CA"

bash "$SCRIPT" --dir "$WORK/a" --nodes 3 >/dev/null  # a new CA
openssl verify -CAfile "$WORK/a/truststore.pem" "$WORK/a/node-1.pem" >/dev/null 2>&1 &&
  fail "a certificate of the old CA verified against the new one"

for args in "--nodes 1" "--dir $WORK/b" "--dir $WORK/b --nodes x" "--dir $WORK/b --nodes 1 --days z" \
  "--dir $WORK/b --clients a/b" "--bogus"; do
  # shellcheck disable=SC2086
  if bash "$SCRIPT" $args >/dev/null 2>&1; then rc=0; else rc=$?; fi
  [[ $rc == 2 ]] || fail "'$args' exited $rc, expected 2"
done

if ((FAILS)); then
  echo "$FAILS failure(s)" >&2
  exit 1
fi
echo "make-certs.sh: all checks passed"
