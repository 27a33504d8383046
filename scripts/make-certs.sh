#!/usr/bin/env bash
# make-certs.sh: a certificate authority and per-node certificates for Strand's TLS listeners
# (docs/security.md), with openssl.
#
#   scripts/make-certs.sh --dir DIR --nodes ID,ID,... [--clients NAME,...] [--hosts H,H,...]
#       [--days N] [--ca-name NAME] [--keep-ca]
#
# Writes into DIR:
#   ca.pem, ca.key               the CA (kept and reused when --keep-ca and they exist)
#   node-ID.pem                  node ID's private key followed by its certificate chain
#                                (ssl.keystore.location), subject CN=strand-node-ID: the
#                                principal that maps to node id ID
#   client-NAME.pem              a client's key and certificate, subject CN=NAME
#   truststore.pem               the CA certificate (ssl.truststore.location)
# Every certificate names, as subject alternative names, DNS:localhost, IP:127.0.0.1 and each
# --hosts entry (a DNS name, or an IP address), so hostname verification
# (ssl.endpoint.identification.algorithm=https) passes for those addresses. Keys are EC P-256,
# unencrypted (file permissions 0600). Certificates are valid for --days (default 365; 0 makes an
# already-expired certificate, for tests). Exit 0 done, 1 openssl failed, 2 usage error.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die_usage() {
  echo "make-certs.sh: $*" >&2
  exit 2
}

DIR="" NODES="" CLIENTS="" HOSTS="" DAYS=365 CA_NAME="Strand local CA" KEEP_CA=0
while (($#)); do
  case $1 in
    --dir) DIR=${2:-} && shift ;;
    --nodes) NODES=${2:-} && shift ;;
    --clients) CLIENTS=${2:-} && shift ;;
    --hosts) HOSTS=${2:-} && shift ;;
    --days) DAYS=${2:-} && shift ;;
    --ca-name) CA_NAME=${2:-} && shift ;;
    --keep-ca) KEEP_CA=1 ;;
    -h | --help) usage && exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
  shift
done
[[ -n $DIR ]] || die_usage "--dir is required"
[[ -n $NODES || -n $CLIENTS ]] || die_usage "give --nodes and/or --clients"
[[ $DAYS =~ ^[0-9]{1,5}$ ]] || die_usage "--days must be a number, not '$DAYS'"
mkdir -p "$DIR"
umask 077

SAN="DNS:localhost,IP:127.0.0.1"
IFS=, read -r -a hosts <<<"$HOSTS"
for h in "${hosts[@]}"; do
  [[ -z $h ]] && continue
  if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then SAN+=",IP:$h"; else SAN+=",DNS:$h"; fi
done

if [[ $KEEP_CA == 1 && -f $DIR/ca.pem && -f $DIR/ca.key ]]; then
  :
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=$CA_NAME" -keyout "$DIR/ca.key" -out "$DIR/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null || { echo "make-certs.sh: openssl could not make the CA" >&2; exit 1; }
fi
cp "$DIR/ca.pem" "$DIR/truststore.pem"

# issue NAME CN: DIR/NAME.pem = key + certificate signed by the CA.
issue() {
  local name=$1 cn=$2 tmp
  tmp=$(mktemp -d)
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn/O=Strand" \
    -keyout "$tmp/key.pem" -out "$tmp/req.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "$SAN" >"$tmp/ext.cnf"
  local validity=(-days "$DAYS")
  # --days 0: expired already (it ended a day ago).
  [[ $DAYS == 0 ]] && validity=(-days -1)
  openssl x509 -req -in "$tmp/req.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -set_serial \
    "0x$(openssl rand -hex 16)" "${validity[@]}" -extfile "$tmp/ext.cnf" -out "$tmp/cert.pem" \
    2>"$tmp/err" || { cat "$tmp/err" >&2; rm -rf "$tmp"; echo "make-certs.sh: cannot issue $name" >&2; exit 1; }
  # Written whole, then renamed: a process watching the file never reads half of it.
  cat "$tmp/key.pem" "$tmp/cert.pem" >"$DIR/.$name.pem.tmp"
  mv -f "$DIR/.$name.pem.tmp" "$DIR/$name.pem"
  rm -rf "$tmp"
}

IFS=, read -r -a nodes <<<"$NODES"
for id in "${nodes[@]}"; do
  [[ -z $id ]] && continue
  [[ $id =~ ^[0-9]+$ ]] || die_usage "node id '$id' is not a number"
  issue "node-$id" "strand-node-$id"
done
IFS=, read -r -a clients <<<"$CLIENTS"
for c in "${clients[@]}"; do
  [[ -z $c ]] && continue
  [[ $c =~ ^[A-Za-z0-9._-]+$ ]] || die_usage "client name '$c': letters, digits, . _ - only"
  issue "client-$c" "$c"
done
echo "make-certs.sh: CA and certificates in $DIR"
