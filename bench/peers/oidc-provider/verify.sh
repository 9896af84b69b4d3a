#!/usr/bin/env bash
# Checks a fixtures JSON against the running server with curl.
# Usage: verify.sh <fixtures.json> [code-repetitions]
# NOTE: consumes refresh tokens (the first 8, by rotating each twice): re-run
# prepare.sh afterwards before measuring.
set -euo pipefail
FX=$1
REPS=${2:-100}
j() { node -e "const d=JSON.parse(require('fs').readFileSync('$FX','utf8')); const v=($1); console.log(Array.isArray(v)?v.join('\n'):v)"; }
BASE=$(j d.base_url)
fail() { echo "FAIL: $*" >&2; exit 1; }

# client_credentials
out=$(curl -fsS -H "Authorization: Basic $(j d.cc.basic)" -d "$(j d.cc.body)" "$BASE$(j d.cc.path)")
[[ $out == *'"access_token"'* ]] || fail "cc: $out"
echo "ok cc"

# userinfo with every bearer token
n=0
for t in $(j d.bearer.tokens); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" "$BASE$(j d.bearer.path)")
  [[ $code == 200 ]] || fail "userinfo $code"; n=$((n+1))
done
echo "ok userinfo x$n"

# introspection of every introspect token
n=0
for t in $(j d.introspect.tokens); do
  out=$(curl -fsS -H "Authorization: Basic $(j d.introspect.basic)" --data-urlencode "token=$t" "$BASE$(j d.introspect.path)")
  [[ $out == *'"active":true'* ]] || fail "introspect: $out"; n=$((n+1))
done
echo "ok introspect x$n"

# every refresh token is live (introspection does not consume it)
n=0
for t in $(j d.refresh.tokens); do
  out=$(curl -fsS -H "Authorization: Basic $(j d.refresh.basic)" --data-urlencode "token=$t" "$BASE$(j d.introspect.path)")
  [[ $out == *'"active":true'* ]] || fail "refresh token not live: $out"; n=$((n+1))
done
echo "ok refresh tokens live x$n"

# refresh rotation: each of the first 8 tokens -> new RT -> newer RT
RB=$(j d.refresh.basic); RP=$(j d.refresh.path)
rt() { curl -fsS -H "Authorization: Basic $RB" -d grant_type=refresh_token --data-urlencode "refresh_token=$1" "$BASE$RP" \
  | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const r=JSON.parse(s);if(!r.refresh_token||!r.access_token)process.exit(1);console.log(r.refresh_token)})'; }
n=0
for t in $(j 'd.refresh.tokens.slice(0,8)'); do
  t2=$(rt "$t") || fail "refresh 1"
  [[ $t2 != "$t" ]] || fail "refresh token not rotated"
  t3=$(rt "$t2") || fail "refresh 2 (rotated token)"
  [[ $t3 != "$t2" ]] || fail "refresh token not rotated (2)"
  n=$((n+1))
done
echo "ok refresh+rotation x$n ($(j 'new Set(d.refresh.tokens).size') distinct refresh tokens in fixture)"

# authorization code, repeatedly, with the fixture cookie
AP=$(j d.code.authorize_path); CK=$(j d.code.cookie); CB=$(j d.code.basic)
RU=$(j d.code.redirect_uri); CV=$(j d.code.code_verifier); TP=$(j d.code.token_path)
for i in $(seq "$REPS"); do
  loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "Cookie: $CK" "$BASE$AP")
  [[ $loc == 30[0-9]\ * && $loc == *code=* ]] || fail "authorize rep $i: $loc"
  c=${loc#*code=}; c=${c%%&*}
  out=$(curl -fsS -H "Authorization: Basic $CB" -d grant_type=authorization_code --data-urlencode "code=$c" \
    --data-urlencode "redirect_uri=$RU" --data-urlencode "code_verifier=$CV" "$BASE$TP")
  [[ $out == *'"access_token"'* && $out == *'"id_token"'* ]] || fail "code exchange rep $i: $out"
done
echo "ok code flow x$REPS"
