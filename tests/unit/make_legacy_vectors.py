#!/usr/bin/python3
"""Rebuild the token vectors pasted into tests/unit/test_token.c.

Legacy tokens are made the way itsdangerous's TimedJSONWebSignatureSerializer
makes them (itsdangerous 1.x: HS512 by default, 0.24: HS256): the header
{"alg":..,"iat":N,"exp":N} carries the expiry, the payload is {"uid": ..},
both compact JSON in base64url without padding, and the HMAC key is the raw
SECRET_KEY, or SHA1(salt + b"signer" + secret) when a salt is set (the
"django-concat" derivation of itsdangerous's Signer). itsdangerous's JWS
code is not packaged in Debian 12, so this follows its source by hand with
the standard library only. It also makes one plain JWS (HS256, kid) with
hmac directly, as an independent check of the JWT path.

Run: python3 tests/unit/make_legacy_vectors.py
"""
import base64
import hashlib
import hmac
import json

SECRET = b"flask-disk-secret-key"
SALT = b"preview-salt"
IAT = 1700000000
EXP = IAT + 86400
NOW = IAT + 60  # the fixed time the C tests verify at

# the ring key of the C tests: bytes 0..31, kid "k1"
RING_KID = "k1"
RING_KEY = bytes(range(32))

ALGS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
        "HS512": hashlib.sha512}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def compact(obj):
    # itsdangerous's _CompactJSON: json.dumps(separators=(",", ":"))
    return json.dumps(obj, separators=(",", ":")).encode()


def sign(alg, key, header, payload):
    text = b64(compact(header)) + b"." + b64(compact(payload))
    sig = hmac.new(key, text, ALGS[alg]).digest()
    return (text + b"." + b64(sig)).decode()


def legacy(alg, key, payload):
    return sign(alg, key, {"alg": alg, "iat": IAT, "exp": EXP}, payload)


def main():
    salted = hashlib.sha1(SALT + b"signer" + SECRET).digest()
    vectors = [
        ("LEGACY_HS512_RAW", legacy("HS512", SECRET, {"uid": 7})),
        ("LEGACY_HS512_SALTED", legacy("HS512", salted, {"uid": 7})),
        ("LEGACY_HS256_RAW", legacy("HS256", SECRET, {"uid": 7})),
        ("LEGACY_HS512_STRUID", legacy("HS512", SECRET, {"uid": "42"})),
        ("LEGACY_HS512_USERID", legacy("HS512", SECRET, {"user_id": 9})),
        ("JWS_HS256_K1", sign("HS256", RING_KEY,
                              {"alg": "HS256", "typ": "JWT", "kid": RING_KID},
                              {"sub": "7", "aud": "preview", "iat": IAT,
                               "exp": EXP, "ver": 3})),
    ]
    print("/* made by tests/unit/make_legacy_vectors.py: SECRET_KEY \"%s\","
          " salt \"%s\", iat %d, exp %d, verified at %d */"
          % (SECRET.decode(), SALT.decode(), IAT, EXP, NOW))
    for name, tok in vectors:
        print('#define %s \\\n    "%s"' % (name, tok))


if __name__ == "__main__":
    main()
