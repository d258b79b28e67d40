#!/usr/bin/python3
"""Answers of the live server against docs/openapi.yaml (tests/t/48_openapi.t).

    openapi_check.py SPEC < observations.json > verdicts.json

observations: a JSON array of {"name", "method", "path" (no query),
"status", "content_type", "headers" {lower-case name: value}, "body"}.
Each is matched to its operation (path template and method) and its
response (the exact status: an undocumented one is an error), then:
- a response with content: Content-Type (without parameters) is one of its
  media types; a JSON body is valid against the schema (JSON Schema draft
  2020-12, $ref resolved in the whole document); an image body is not
  empty; HEAD: no body;
- a response without content: an empty body;
- every header the response requires is there, and every header it
  describes that is there matches its schema.
Prints {"verdicts": [{"name", "operation", "errors": [...]}], "missing":
["post /login 429", ...]}: the documented statuses no observation had.
Debian's python3-yaml and python3-jsonschema (4.10: RefResolver).
"""
import json
import re
import sys
import warnings

import jsonschema
import yaml

METHODS = ("get", "head", "post", "put", "delete", "options", "patch")


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    observations = json.load(sys.stdin)
    warnings.simplefilter("ignore", DeprecationWarning)
    resolver = jsonschema.RefResolver(base_uri="", referrer=spec)

    def deref(node):
        while isinstance(node, dict) and "$ref" in node:
            node = resolver.resolve(node["$ref"])[1]
        return node

    def schema_errors(value, schema):
        v = jsonschema.Draft202012Validator(schema, resolver=resolver)
        return ["%s at %s" % (e.message, "/".join(map(str, e.path)) or "/")
                for e in sorted(v.iter_errors(value), key=str)]

    templates = []
    for tpl in spec["paths"]:
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(tpl)) + "$"
        templates.append((re.compile(rx), tpl))

    seen = set()
    verdicts = []
    for ob in observations:
        errors = []
        method = ob["method"].lower()
        status = str(ob["status"])
        tpl = next((t for rx, t in templates if rx.match(ob["path"])), None)
        op = deref(spec["paths"][tpl]).get(method) if tpl else None
        opname = "%s %s" % (method, tpl or ob["path"])
        resp = None
        if tpl is None:
            errors.append("path %s is not described" % ob["path"])
        elif op is None:
            errors.append("method %s is not described for %s" % (method, tpl))
        else:
            resp = op["responses"].get(status)
            if resp is None:
                errors.append("status %s is not documented for %s" %
                              (status, opname))
        if resp is not None:
            seen.add((opname, status))
            resp = deref(resp)
            body = ob.get("body") or ""
            ctype = (ob.get("content_type") or "").split(";")[0].strip()
            content = resp.get("content")
            if method == "head":
                if body:
                    errors.append("a HEAD answer with a body")
            elif content:
                if ctype not in content:
                    errors.append("Content-Type %r is not one of %s" %
                                  (ctype, sorted(content)))
                elif ctype == "application/json":
                    try:
                        value = json.loads(body)
                    except ValueError as e:
                        errors.append("body is not JSON: %s" % e)
                    else:
                        schema = content[ctype].get("schema", {})
                        errors += ["body: " + m
                                   for m in schema_errors(value, schema)]
                elif not body:
                    errors.append("empty %s body" % ctype)
            elif body:
                errors.append("a body where none is documented")
            headers = ob.get("headers") or {}
            for name, h in (resp.get("headers") or {}).items():
                h = deref(h)
                value = headers.get(name.lower())
                if value is None:
                    if h.get("required"):
                        errors.append("header %s missing" % name)
                    continue
                errors += ["header %s: %s" % (name, m)
                           for m in schema_errors(value, h.get("schema", {}))]
        verdicts.append({"name": ob["name"], "operation": opname,
                         "status": status, "errors": errors})

    missing = []
    for tpl, item in spec["paths"].items():
        item = deref(item)
        for method in METHODS:
            if method in item:
                for status in item[method]["responses"]:
                    opname = "%s %s" % (method, tpl)
                    if (opname, str(status)) not in seen:
                        missing.append("%s %s" % (opname, status))
    json.dump({"verdicts": verdicts, "missing": missing}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
