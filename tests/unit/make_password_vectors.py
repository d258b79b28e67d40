#!/usr/bin/env python3
"""Regenerate the password-hash vectors of tests/unit/test_password.c.

Each hash is made by the tool a real deployment uses: htpasswd (apache2-utils)
for bcrypt, SHA-crypt, apr1 and {SHA}; openssl passwd for MD5-crypt; Python's
crypt for bcrypt $2b$; Debian's python3-werkzeug for pbkdf2. Werkzeug 3's
scrypt method is not in Debian 12's Werkzeug 2.2, so scrypt hashes are made
with the exact code of Werkzeug 3's _hash_internal (hashlib.scrypt, salt and
password as UTF-8, dklen 64, lower-case hex, method written as scrypt:n:r:p).

Usage: tests/unit/make_password_vectors.py [--write]
Without --write it prints the C block; with it, it replaces the block between
the BEGIN/END VECTORS markers of test_password.c.
"""
import hashlib
import os
import subprocess
import sys
import warnings

from werkzeug.security import gen_salt, generate_password_hash

PASSWORD = "correct horse \u00e9 battery"  # non-ASCII on purpose: UTF-8 bytes
WRONG = "correct horse \u00e9 batterz"


def htpasswd(flags, password):
    out = subprocess.run(["htpasswd", "-nb"] + flags + ["u", password],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split(":", 1)[1]


def md5crypt(password):
    return subprocess.run(["openssl", "passwd", "-1", password], check=True,
                          capture_output=True, text=True).stdout.strip()


def bcrypt_2b(password):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import crypt
        return crypt.crypt(password,
                           crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))


def werkzeug3_scrypt(password, n=2 ** 15, r=8, p=1, salt_length=16):
    salt = gen_salt(salt_length)
    h = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p,
                       maxmem=132 * n * r * p).hex()
    return f"scrypt:{n}:{r}:{p}${salt}${h}"


def vectors():
    v = []
    for pw in (PASSWORD, ""):
        tag = "" if pw else " (empty password)"
        v += [
            ("htpasswd -nbB" + tag, htpasswd(["-B"], pw), pw),
            ("htpasswd -nb -2" + tag, htpasswd(["-2"], pw), pw),
            ("werkzeug pbkdf2:sha256:1000" + tag,
             generate_password_hash(pw, "pbkdf2:sha256:1000"), pw),
            ("werkzeug 3 scrypt:1024:8:1" + tag,
             werkzeug3_scrypt(pw, n=1024), pw),
        ]
    v += [
        ("htpasswd -nbB -C 10", htpasswd(["-B", "-C", "10"], PASSWORD),
         PASSWORD),
        ("htpasswd -nb -5", htpasswd(["-5"], PASSWORD), PASSWORD),
        ("htpasswd -nb -5 -r 10000", htpasswd(["-5", "-r", "10000"],
                                              PASSWORD), PASSWORD),
        ("htpasswd -nbm (apr1)", htpasswd(["-m"], PASSWORD), PASSWORD),
        ("htpasswd -nbs ({SHA})", htpasswd(["-s"], PASSWORD), PASSWORD),
        ("openssl passwd -1 (md5-crypt)", md5crypt(PASSWORD), PASSWORD),
        ("python crypt bcrypt $2b$", bcrypt_2b(PASSWORD), PASSWORD),
        ("werkzeug pbkdf2:sha1:1000",
         generate_password_hash(PASSWORD, "pbkdf2:sha1:1000"), PASSWORD),
        ("werkzeug pbkdf2:sha512:1000",
         generate_password_hash(PASSWORD, "pbkdf2:sha512:1000"), PASSWORD),
        ("werkzeug default (Debian 12: pbkdf2:sha256:260000)",
         generate_password_hash(PASSWORD), PASSWORD),
        ("werkzeug 3 default scrypt:32768:8:1", werkzeug3_scrypt(PASSWORD),
         PASSWORD),
        ("werkzeug 3 scrypt:1024:8:2, 8-byte salt",
         werkzeug3_scrypt(PASSWORD, n=1024, p=2, salt_length=8), PASSWORD),
    ]
    return v


def c_string(s):
    out = []
    for b in s.encode():
        if b in (0x22, 0x5c):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7f:
            out.append(chr(b))
        else:
            out.append("\\x%02x\"\"" % b)
    return '"' + "".join(out) + '"'


def block():
    lines = ["/* BEGIN VECTORS: made by tests/unit/make_password_vectors.py */",
             "#define GOOD_PW " + c_string(PASSWORD),
             "#define WRONG_PW " + c_string(WRONG),
             "static const pw_vector_t vectors[] = {"]
    for name, h, pw in vectors():
        lines.append("    {%s,\n     %s,\n     %s}," %
                     (c_string(name), c_string(h), c_string(pw)))
    lines += ["};", "/* END VECTORS */"]
    return "\n".join(lines) + "\n"


def main():
    text = block()
    if "--write" not in sys.argv[1:]:
        sys.stdout.write(text)
        return
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "test_password.c")
    src = open(path, encoding="utf-8").read()
    start = src.index("/* BEGIN VECTORS")
    end = src.index("/* END VECTORS */") + len("/* END VECTORS */\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(src[:start] + text + src[end:])


if __name__ == "__main__":
    main()
