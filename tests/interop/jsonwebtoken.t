#!/usr/bin/env node
// Interop between preview-token (the module's own token code, pv_token.c)
// and Node's jsonwebtoken, printing TAP, with the README's token code run
// as written: the js and python blocks of "Tokens in your own code" are
// taken out of README.md (the key file path replaced by a test one). Their
// tokens verify with `preview-token verify`, they verify tokens
// `preview-token mint` made, and each mistake the README lists (the
// secret's text as the key, a numeric sub, no ver, a numeric img, an
// unknown kid) is refused for its reason.
//
// Run from the repository root after `make -f apxs.mk all` and
// tests/deps (which installs jsonwebtoken into tests/npm/node_modules):
//     prove tests/interop/jsonwebtoken.t
// PREVIEW_TOKEN may name another preview-token binary.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawnSync } = require("child_process");

const top = path.resolve(__dirname, "..", "..");
const CLI = process.env.PREVIEW_TOKEN || path.join(top, "build", "preview-token");
const MODULES = path.join(top, "tests", "npm", "node_modules");
const README_KEYS = "/etc/apache2/preview.keys";

let n = 0;
let failed = 0;
function ok(cond, name, diag) {
  n++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (diag !== undefined) {
      for (const l of String(typeof diag === "string" ? diag : JSON.stringify(diag)).split("\n")) {
        console.log(`#   ${l}`);
      }
    }
  }
  return cond;
}

function run(args, input) {
  const p = spawnSync(args[0], args.slice(1), { encoding: "utf8", input });
  return { rc: p.status, out: p.stdout || "", err: (p.stderr || "") + (p.error ? String(p.error) : "") };
}
const cli = (...args) => run([CLI, ...args]);

function finish() {
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

// The first ```<lang> block after the heading "### Tokens in your own code".
function readmeBlock(lang) {
  const text = fs.readFileSync(path.join(top, "README.md"), "utf8");
  const at = text.indexOf("\n### Tokens in your own code\n");
  if (at < 0) return null;
  const m = text.slice(at).match(new RegExp("\\n```" + lang + "\\n([\\s\\S]*?)\\n```\\n"));
  return m ? m[1] : null;
}

if (!fs.existsSync(CLI)) {
  console.log(`1..0 # SKIP ${CLI} not built (make -f apxs.mk all)`);
  process.exit(0);
}
let jwt;
try {
  jwt = require(path.join(MODULES, "jsonwebtoken"));
} catch (e) {
  ok(false, "jsonwebtoken is installed in tests/npm/node_modules (tests/deps runs npm ci)", String(e));
  finish();
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pv-jsonwebtoken-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const keyfile = path.join(tmp, "keys");
const lines = [];
for (let i = 0; i < 2; i++) {
  const g = cli("genkey");
  ok(g.rc === 0 && g.out.trim().split(/\s+/).length === 2, "genkey prints '<kid> <secret>'", g.err);
  lines.push(g.out.trim());
}
fs.writeFileSync(keyfile, "# made by the interop test\n" + lines.join("\n") + "\n");
const [[kid1, text1], [kid2, text2]] = lines.map((l) => l.split(/\s+/));
const key1 = Buffer.from(text1, "base64url");
const key2 = Buffer.from(text2, "base64url");
ok(key1.length === 32 && key2.length === 32, "the secrets decode to 32 bytes each");

function verified(token) {
  const v = cli("verify", "--key-file", keyfile, token);
  let claims = null;
  try { claims = JSON.parse(v.out); } catch (e) { /* reported below */ }
  return { ...v, claims };
}
function refused(token, reason, name) {
  const v = cli("verify", "--key-file", keyfile, token);
  ok(v.rc === 1 && v.out === "" && v.err === `preview-token: token refused: ${reason}\n`, name,
     `rc=${v.rc} out=${JSON.stringify(v.out)} err=${JSON.stringify(v.err)}`);
}
const sign = (payload, key, opts) => jwt.sign(payload, key, { algorithm: "HS256", ...opts });

// ---- (1) jsonwebtoken mints, preview-token verifies
for (const alg of ["HS256", "HS384", "HS512"]) {
  const t0 = Math.floor(Date.now() / 1000);
  const v = verified(jwt.sign({ ver: 2 }, key1, { algorithm: alg, keyid: kid1, subject: "7",
                                                  audience: "preview", expiresIn: 600 }));
  const c = v.claims || {};
  ok(v.rc === 0 && c.sub === "7" && c.aud === "preview" && c.ver === 2 && c.kid === kid1 &&
     c.alg === alg && c.exp - c.iat === 600 && c.iat >= t0 && c.iat <= t0 + 5,
     `jsonwebtoken ${alg} login token verifies, claims exact`, v.out + v.err);
}
{
  const v = verified(sign({ ver: 0, img: "18446744073709551614" }, key2,
                          { keyid: kid2, subject: "18446744073709551615", audience: "preview", expiresIn: 60 }));
  ok(v.rc === 0 && v.claims.kid === kid2 && v.claims.sub === "18446744073709551615" &&
     v.claims.img === "18446744073709551614",
     "jsonwebtoken URL token of the second key, 64-bit ids as strings, verifies", v.out + v.err);
}

// ---- (2) preview-token mints, jsonwebtoken verifies
{
  const m = cli("mint", "--key-file", keyfile, "--sub", "42", "--ver", "5", "--ttl", "600");
  let c = null;
  try { c = jwt.verify(m.out.trim(), key1, { algorithms: ["HS256"], audience: "preview" }); } catch (e) { c = { error: String(e) }; }
  ok(m.rc === 0 && c.sub === "42" && c.ver === 5 && c.aud === "preview" && c.exp - c.iat === 600 &&
     Object.keys(c).sort().join() === "aud,exp,iat,sub,ver",
     "jsonwebtoken verifies a minted login token: sub, aud, iat, exp, ver exact", c);
  let threw = false;
  try { jwt.verify(m.out.trim(), key2, { algorithms: ["HS256"] }); } catch (e) { threw = e.name === "JsonWebTokenError"; }
  ok(threw, "... and refuses it under the second key");
  const h = jwt.decode(m.out.trim(), { complete: true }).header;
  ok(h.alg === "HS256" && h.typ === "JWT" && h.kid === kid1, "minted header: HS256, JWT, kid of the first key", h);
}

// ---- (3) the mistakes of the README, each refused for its reason
const good = { keyid: kid1, audience: "preview", expiresIn: 600 };
refused(sign({ ver: 0 }, text1, { ...good, subject: "7" }), "bad signature",
        "the secret's text as the key (not its bytes): bad signature");
refused(sign({ sub: 7, ver: 0 }, key1, good), "bad subject", "sub a number: bad subject");
refused(sign({}, key1, { ...good, subject: "7" }), "missing claim", "no ver: missing claim");
refused(sign({ ver: 0, img: 7 }, key1, { ...good, subject: "7" }), "bad claim", "img a number: bad claim");
refused(sign({ ver: 0 }, key1, { ...good, subject: "7", keyid: "nope" }), "unknown key id", "an unknown kid");
refused(sign({ ver: 0 }, key1, { ...good, subject: "7", audience: "login" }), "wrong audience", "aud not preview");

// ---- (4) the README's Node code, as written
const js = readmeBlock("js");
if (ok(js && js.split(README_KEYS).length === 2 && /function urlToken/.test(js) && /function verifyToken/.test(js),
       "README: a js block with urlToken, verifyToken and the key file path")) {
  const file = path.join(tmp, "readme_tokens.js");
  fs.writeFileSync(file, `module.paths.unshift(${JSON.stringify(MODULES)});\n` +
                   js.replace(README_KEYS, keyfile) + "\nmodule.exports = { urlToken, verifyToken };\n");
  const readme = require(file);
  const t0 = Math.floor(Date.now() / 1000);
  const v = verified(readme.urlToken("42", "7", 3));
  const c = v.claims || {};
  ok(v.rc === 0 && c.sub === "42" && c.img === "7" && c.ver === 3 && c.aud === "preview" &&
     c.kid === kid1 && c.alg === "HS256" && c.exp - c.iat === 600 && c.iat >= t0 && c.iat <= t0 + 5,
     "README urlToken: preview-token verifies it, claims exact", v.out + v.err);
  for (const args of [["--sub", "42", "--ver", "3"], ["--sub", "42", "--img", "9", "--ver", "3"]]) {
    const m = cli("mint", "--key-file", keyfile, ...args);
    let got;
    try { got = readme.verifyToken(m.out.trim()); } catch (e) { got = { error: String(e) }; }
    ok(m.rc === 0 && got.sub === "42" && got.ver === 3 && got.img === (args.includes("--img") ? "9" : undefined),
       `README verifyToken: a token of preview-token mint ${args.join(" ")}`, got);
  }
  let threw = false;
  try { readme.verifyToken(sign({ ver: 0 }, Buffer.alloc(32, 1), { ...good, subject: "7" })); } catch (e) { threw = true; }
  ok(threw, "README verifyToken: another key's token throws");
  const k2 = sign({ ver: 1 }, key2, { ...good, subject: "8", keyid: kid2 });
  let got2;
  try { got2 = readme.verifyToken(k2); } catch (e) { got2 = { error: String(e) }; }
  ok(got2.sub === "8", "README verifyToken: a token of the ring's second key (rotation)", got2);
}

// ---- (5) the README's PyJWT code, as written (Debian's python3-jwt)
const py = readmeBlock("python");
if (ok(py && py.split(README_KEYS).length === 2 && /def url_token/.test(py) && /def verify_token/.test(py),
       "README: a python block with url_token, verify_token and the key file path")) {
  const file = path.join(tmp, "readme_tokens.py");
  fs.writeFileSync(file, py.replace(README_KEYS, keyfile) + `

import json, sys
if sys.argv[1] == "mint":
    print(url_token(sys.argv[2], sys.argv[3], int(sys.argv[4])))
else:
    print(json.dumps(verify_token(sys.argv[2])))
`);
  const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const m = run([python, file, "mint", "42", "7", "3"]);
  const v = verified(m.out.trim());
  const c = v.claims || {};
  ok(m.rc === 0 && v.rc === 0 && c.sub === "42" && c.img === "7" && c.ver === 3 && c.kid === kid1 &&
     c.exp - c.iat === 600, "README url_token (PyJWT): preview-token verifies it, claims exact", m.err + v.out + v.err);
  const t = cli("mint", "--key-file", keyfile, "--sub", "42", "--img", "9", "--ver", "3").out.trim();
  const d = run([python, file, "verify", t]);
  let dc = {};
  try { dc = JSON.parse(d.out); } catch (e) { /* reported below */ }
  ok(d.rc === 0 && dc.sub === "42" && dc.img === "9" && dc.ver === 3,
     "README verify_token (PyJWT): a token of preview-token mint", d.out + d.err);
  const x = run([python, file, "verify", sign({ ver: 4 }, key2, { ...good, subject: "5", keyid: kid2 })]);
  let xc = {};
  try { xc = JSON.parse(x.out); } catch (e) { /* reported below */ }
  ok(x.rc === 0 && xc.sub === "5" && xc.ver === 4,
     "README verify_token (PyJWT): a jsonwebtoken token of the second key", x.out + x.err);
}

finish();
