#!/usr/bin/env python3
"""Writes N copies of a token that differ only in iat/nbf, re-signed with HS256, one per line:
each is valid for the same session but a string the gateway has never seen, so every request
pays the full verification (the cache-miss path).  Usage: mint_tokens.py TOKEN SECRET N OFFSET"""
import base64, hashlib, hmac, json, sys

token, secret, n, offset = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
header, payload, _ = token.split(".")
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
out = sys.stdout
base = claims["iat"]
for i in range(offset, offset + n):
    claims["iat"] = claims["nbf"] = base - 1 - i
    body = header.encode() + b"." + b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64(hmac.new(secret, body, hashlib.sha256).digest())
    out.write((body + b"." + sig).decode() + "\n")
