#!/usr/bin/python3
"""Interop between preview-token and PyJWT (python3-jwt), printing TAP.

Run from the repository root after `make -f apxs.mk all`:
    prove tests/interop/pyjwt.t
(/usr/bin/python3: Debian's python3-jwt lives there.) PREVIEW_TOKEN may name
another preview-token binary.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time

import jwt

CLI = os.environ.get("PREVIEW_TOKEN", "build/preview-token")
tests = []
failed = 0


def ok(cond, name, diag=None):
    global failed
    tests.append(name)
    n = len(tests)
    if cond:
        print("ok %d - %s" % (n, name))
    else:
        failed += 1
        print("not ok %d - %s" % (n, name))
        if diag:
            for line in str(diag).splitlines():
                print("#   " + line)
    sys.stdout.flush()
    return cond


def run(*args, stdin=None):
    p = subprocess.run([CLI] + list(args), capture_output=True, text=True,
                       input=stdin)
    return p.returncode, p.stdout, p.stderr


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    if not os.access(CLI, os.X_OK):
        print("1..0 # SKIP %s not built (make -f apxs.mk all)" % CLI)
        return 0
    tmp = tempfile.mkdtemp(prefix="pv-interop-")
    keyfile = os.path.join(tmp, "keys")

    # a ring of two fresh keys: the first signs
    lines = []
    for _ in range(2):
        rc, out, err = run("genkey")
        ok(rc == 0 and len(out.split()) == 2, "genkey prints '<kid> <secret>'",
           err)
        lines.append(out.strip())
    with open(keyfile, "w") as f:
        f.write("# made by the interop test\n" + "\n".join(lines) + "\n")
    (kid1, sec1), (kid2, sec2) = [
        (k, b64d(s)) for k, s in (l.split() for l in lines)]
    ok(len(sec1) == 32 and len(sec2) == 32 and kid1 != kid2,
       "genkey: 32-byte secrets, distinct kids")

    now = int(time.time())

    def claims(**kw):
        c = {"sub": "7", "aud": "preview", "iat": now, "exp": now + 600,
             "ver": 2}
        c.update(kw)
        return c

    # (1) PyJWT mints, preview-token verifies
    for alg in ("HS256", "HS384", "HS512"):
        tok = jwt.encode(claims(), sec1, algorithm=alg,
                         headers={"kid": kid1})
        rc, out, err = run("verify", "--key-file", keyfile, tok)
        if ok(rc == 0, "PyJWT %s token verifies" % alg, err):
            got = json.loads(out)
            ok(got == {"sub": "7", "aud": "preview", "iat": now,
                       "exp": now + 600, "ver": 2, "kid": kid1, "alg": alg},
               "PyJWT %s: claims printed exactly" % alg, out)

    tok = jwt.encode(claims(sub="123456789"), sec2, algorithm="HS256",
                     headers={"kid": kid2})
    rc, out, err = run("verify", "--key-file", keyfile, tok)
    ok(rc == 0 and json.loads(out)["kid"] == kid2
       and json.loads(out)["sub"] == "123456789",
       "PyJWT token of the second (older) key verifies", err)

    tok = jwt.encode(claims(), sec1, algorithm="HS256")
    rc, out, err = run("verify", "--key-file", keyfile, tok)
    ok(rc == 0 and json.loads(out)["kid"] == kid1,
       "PyJWT token without kid verifies with the signing key", err)

    tok = jwt.encode(claims(aud=["other", "preview"]), sec1,
                     algorithm="HS256", headers={"kid": kid1})
    rc, out, err = run("verify", "--key-file", keyfile, tok)
    ok(rc == 0, "PyJWT token with aud array containing preview verifies",
       err)

    tok = jwt.encode(claims(), sec1, algorithm="HS256", headers={"kid": kid1})
    rc, out, err = run("verify", "--key-file", keyfile, "-", stdin=tok + "\n")
    ok(rc == 0 and json.loads(out)["sub"] == "7", "verify reads '-' from stdin",
       err)

    # refusals: exit 1, the reason, never the token
    def refused(tok, reason, name, *extra):
        rc, out, err = run("verify", "--key-file", keyfile, *extra, tok)
        ok(rc == 1 and out == ""
           and err == "preview-token: token refused: %s\n" % reason
           and tok not in err, name, "rc=%d out=%r err=%r" % (rc, out, err))

    refused(jwt.encode(claims(iat=now - 4000, exp=now - 3600), sec1,
                       algorithm="HS256", headers={"kid": kid1}),
            "expired", "expired PyJWT token refused")
    refused(jwt.encode(claims(), None, algorithm="none",
                       headers={"kid": kid1}),
            "algorithm not allowed", "PyJWT alg none refused")
    refused(jwt.encode(claims(), b"x" * 32, algorithm="HS256",
                       headers={"kid": kid1}),
            "bad signature", "PyJWT token with another key refused")
    refused(jwt.encode(claims(), sec1, algorithm="HS256",
                       headers={"kid": "nope"}),
            "unknown key id", "unknown kid refused")
    refused(jwt.encode(claims(aud="login"), sec1, algorithm="HS256",
                       headers={"kid": kid1}),
            "wrong audience", "wrong audience refused")
    refused(jwt.encode(claims(sub="07"), sec1, algorithm="HS256",
                       headers={"kid": kid1}),
            "bad subject", "sub with a leading zero refused")
    refused(jwt.encode({"sub": "7", "aud": "preview", "exp": now + 600},
                       sec1, algorithm="HS256", headers={"kid": kid1}),
            "missing claim", "token without ver refused")
    refused(jwt.encode(claims(), sec1, algorithm="HS512",
                       headers={"kid": kid1}),
            "algorithm not allowed", "--algs HS256 refuses HS512",
            "--algs", "HS256")
    refused(jwt.encode(claims(iat=now + 100), sec1, algorithm="HS256",
                       headers={"kid": kid1}),
            "not yet valid", "iat beyond the leeway refused")
    rc, out, err = run("verify", "--key-file", keyfile, "--leeway", "200",
                       jwt.encode(claims(iat=now + 100), sec1,
                                  algorithm="HS256", headers={"kid": kid1}))
    ok(rc == 0, "--leeway 200 accepts iat 100 s ahead", err)

    # (2) preview-token mints, PyJWT decodes
    for alg, ttl, ver in (("HS256", 600, 0), ("HS384", 3600, 5),
                          ("HS512", 86400, 4294967295)):
        t0 = int(time.time())
        rc, out, err = run("mint", "--key-file", keyfile, "--sub", "42",
                           "--ttl", str(ttl), "--ver", str(ver), "--alg", alg)
        if not ok(rc == 0, "mint %s" % alg, err):
            continue
        tok = out.strip()
        hdr = jwt.get_unverified_header(tok)
        ok(hdr == {"alg": alg, "typ": "JWT", "kid": kid1},
           "mint %s: header alg, typ, kid of the first key" % alg, hdr)
        try:
            got = jwt.decode(tok, sec1, algorithms=[alg], audience="preview",
                             options={"require": ["exp", "iat", "sub", "aud"]})
        except Exception as e:  # noqa: BLE001 - reported as a failure
            ok(False, "PyJWT decodes minted %s token" % alg, repr(e))
            continue
        ok(set(got) == {"sub", "aud", "iat", "exp", "ver"}
           and got["sub"] == "42" and got["aud"] == "preview"
           and got["ver"] == ver and got["exp"] - got["iat"] == ttl
           and t0 <= got["iat"] <= t0 + 5,
           "PyJWT decodes minted %s token: sub, aud, iat, exp, ver exact"
           % alg, got)
        try:
            jwt.decode(tok, sec2, algorithms=[alg], audience="preview")
            ok(False, "minted %s token is not signed by the second key" % alg)
        except jwt.InvalidSignatureError:
            ok(True, "minted %s token is not signed by the second key" % alg)

    # URL tokens (claim img): both ways, img a string
    t0 = int(time.time())
    rc, out, err = run("mint", "--key-file", keyfile, "--sub", "42", "--img",
                       "18446744073709551615", "--ver", "3")
    if ok(rc == 0, "mint --img", err):
        got = jwt.decode(out.strip(), sec1, algorithms=["HS256"],
                         audience="preview",
                         options={"require": ["exp", "iat", "sub", "aud"]})
        ok(set(got) == {"sub", "aud", "iat", "exp", "ver", "img"}
           and got["img"] == "18446744073709551615" and got["sub"] == "42"
           and got["ver"] == 3 and got["exp"] - got["iat"] == 3600
           and t0 <= got["iat"] <= t0 + 5,
           "PyJWT decodes a minted URL token: img a string, ttl 3600", got)
    tok = jwt.encode(claims(img="77"), sec1, algorithm="HS256",
                     headers={"kid": kid1})
    rc, out, err = run("verify", "--key-file", keyfile, tok)
    ok(rc == 0 and json.loads(out) == {"sub": "7", "aud": "preview",
                                       "iat": now, "exp": now + 600, "ver": 2,
                                       "kid": kid1, "alg": "HS256",
                                       "img": "77"},
       "PyJWT URL token verifies, img printed", out + err)
    refused(jwt.encode(claims(img=77), sec1, algorithm="HS256",
                       headers={"kid": kid1}),
            "bad claim", "img as a number refused")
    refused(jwt.encode(claims(img="077"), sec1, algorithm="HS256",
                       headers={"kid": kid1}),
            "bad claim", "img with a leading zero refused")
    rc, out, err = run("mint", "--key-file", keyfile, "--sub", "1", "--img",
                       "0")
    ok(rc == 2 and "--img must be a decimal image id" in err,
       "mint --img 0: exit 2", err)

    # legacy itsdangerous tokens (TimedJSONWebSignatureSerializer layout)
    secret = "flask SECRET_KEY"
    secfile = os.path.join(tmp, "legacy")
    with open(secfile, "w") as f:
        f.write(secret + "\n")

    def legacy_token(alg, key, payload, exp):
        hdr = {"alg": alg, "iat": now, "exp": exp}
        text = (b64e(json.dumps(hdr, separators=(",", ":")).encode()) + "." +
                b64e(json.dumps(payload, separators=(",", ":")).encode()))
        dig = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
        return text + "." + b64e(hmac.new(key, text.encode(), dig).digest())

    tok = legacy_token("HS512", secret.encode(), {"uid": 7}, now + 600)
    rc, out, err = run("verify", "--key-file", keyfile,
                       "--legacy-secret-file", secfile, tok)
    ok(rc == 0 and json.loads(out) == {"sub": "7", "iat": now,
                                       "exp": now + 600, "alg": "HS512",
                                       "legacy": True},
       "legacy HS512 token verifies with --legacy-secret-file", out + err)
    refused(tok, "legacy tokens disabled",
            "legacy token refused without --legacy-secret-file")
    salted = hashlib.sha1(b"my-salt" + b"signer" + secret.encode()).digest()
    tok = legacy_token("HS256", salted, {"user": "99"}, now + 600)
    rc, out, err = run("verify", "--key-file", keyfile,
                       "--legacy-secret-file", secfile, "--legacy-salt",
                       "my-salt", "--legacy-uid-field", "user", tok)
    ok(rc == 0 and json.loads(out)["sub"] == "99",
       "salted HS256 legacy token with a custom uid field verifies", err)
    refused(legacy_token("HS512", secret.encode(), {"uid": 7}, now - 3600),
            "expired", "expired legacy token refused",
            "--legacy-secret-file", secfile)

    # usage and file errors
    rc, out, err = run("verify", tok)
    ok(rc == 2 and "--key-file is required" in err,
       "verify without --key-file: exit 2", err)
    rc, out, err = run("mint", "--key-file", keyfile, "--sub", "0")
    ok(rc == 2 and "--sub must be a decimal user id" in err,
       "mint --sub 0: exit 2", err)
    rc, out, err = run("mint", "--key-file", keyfile, "--sub", "1", "--alg",
                       "none")
    ok(rc == 2, "mint --alg none: exit 2", err)
    rc, out, err = run("frobnicate")
    ok(rc == 2 and "unknown command 'frobnicate'" in err,
       "unknown command: exit 2", err)
    for sub in ("genkey", "mint", "verify", "hash"):
        rc, out, err = run(sub, "--help")
        ok(rc == 0 and out.startswith("usage: preview-token " + sub),
           "%s --help" % sub, err)
    missing = os.path.join(tmp, "missing")
    rc, out, err = run("mint", "--key-file", missing, "--sub", "1")
    ok(rc == 1 and err.startswith("preview-token: %s: cannot open" % missing),
       "missing key file: exit 1 naming the file", err)
    bad = os.path.join(tmp, "bad")
    with open(bad, "w") as f:
        f.write(lines[0] + "\nk2 tooshort\n")
    rc, out, err = run("verify", "--key-file", bad, tok)
    ok(rc == 1 and err.startswith("preview-token: %s:2: " % bad)
       and lines[0].split()[1] not in err,
       "bad key file: exit 1 naming file and line, not the secret", err)

    print("1..%d" % len(tests))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
