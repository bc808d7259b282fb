#!/usr/bin/python3
"""Builds the OpenAPI 3.0.3 document of the HTTP routes from the protos and
their google.api.http rules, and writes it as a C++ source file the gateway
serves at /openapi.json.

    make_openapi.py PROTOC PROTO_ROOT GOOGLEAPIS OUT_JSON OUT_CC

protoc writes a descriptor set (with comments); the http rules are read with
Python classes protoc generates for google/api/http.proto. Path templates
become OpenAPI paths with one parameter per variable segment
(`/v1/{name=cases/*}` → `/v1/cases/{case}`), every field not bound by the
path or the body becomes a query parameter (lowerCamelCase, nested fields
dotted), and messages become schemas as protobuf's JSON mapping writes them
(64-bit integers as strings, enums by name, well-known types in their JSON
forms)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

protoc, root, googleapis, out_json, out_cc = sys.argv[1:6]
PROTOS = ("counsel/guidance/v1/guidance.proto", "counsel/cases/v1/cases.proto",
          "counsel/gateway/v1/portal.proto")

work = tempfile.mkdtemp()
if True:
    subprocess.run([protoc, "-I", googleapis, f"--python_out={work}", "google/api/http.proto",
                    "google/api/annotations.proto"], check=True)
    descriptor_set = os.path.join(work, "all.pb")
    subprocess.run([protoc, "-I", root, "-I", googleapis, "--include_imports",
                    "--include_source_info", f"--descriptor_set_out={descriptor_set}", *PROTOS,
                    "google/rpc/status.proto"],
                   check=True)
    sys.path.insert(0, work)
    from google.protobuf import descriptor_pb2  # noqa: E402
    from google.api import annotations_pb2  # noqa: E402
    fds = descriptor_pb2.FileDescriptorSet()
    # Parse with the http extension known, so that method options carry it.
    fds.ParseFromString(open(descriptor_set, "rb").read())

messages, enums, comments, locations = {}, {}, {}, {}


def index(file, prefix, msgs, path):
    for i, m in enumerate(msgs):
        full = f"{prefix}.{m.name}"
        messages[full] = m
        locations[full] = (file.name, tuple(path + [i]))
        for j, e in enumerate(m.enum_type):
            enums[f"{full}.{e.name}"] = e
        index(file, full, m.nested_type, path + [i, 3])


for f in fds.file:
    for loc in f.source_code_info.location:
        text = (loc.leading_comments or loc.trailing_comments).strip()
        if text:
            comments[(f.name, tuple(loc.path))] = text
    index(f, f".{f.package}", f.message_type, [4])
    for e in f.enum_type:
        enums[f".{f.package}.{e.name}"] = e


def comment_of(file_name, path):
    return comments.get((file_name, tuple(path)), "")


def lower_camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


WELL_KNOWN = {
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    ".google.protobuf.Duration": {"type": "string", "example": "3600s"},
    ".google.protobuf.FieldMask": {"type": "string", "example": "assignee,labels"},
    ".google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    ".google.protobuf.Value": {},
    ".google.protobuf.ListValue": {"type": "array", "items": {}},
    ".google.protobuf.Empty": {"type": "object"},
    ".google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}},
                             "additionalProperties": True},
    ".google.protobuf.StringValue": {"type": "string"},
    ".google.protobuf.BoolValue": {"type": "boolean"},
    ".google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    ".google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    ".google.protobuf.DoubleValue": {"type": "number"},
}
F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    F.TYPE_FLOAT: {"type": "number", "format": "float"},
    F.TYPE_INT64: {"type": "string", "format": "int64"},
    F.TYPE_UINT64: {"type": "string", "format": "uint64"},
    F.TYPE_INT32: {"type": "integer", "format": "int32"},
    F.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    F.TYPE_FIXED32: {"type": "integer", "format": "int64"},
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "format": "byte"},
    F.TYPE_UINT32: {"type": "integer", "format": "int64"},
    F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    F.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    F.TYPE_SINT64: {"type": "string", "format": "int64"},
}
schemas = {}


def schema_name(full):
    return full.lstrip(".").replace(".", "_")


def enum_schema(full):
    e = enums[full]
    return {"type": "string", "enum": [v.name for v in e.value]}


def field_schema(field):
    if field.type == F.TYPE_MESSAGE:
        m = messages.get(field.type_name)
        if m is not None and m.options.map_entry:
            value = next(f for f in m.field if f.name == "value")
            return {"type": "object", "additionalProperties": field_schema(value)}
        base = message_ref(field.type_name)
    elif field.type == F.TYPE_ENUM:
        name = schema_name(field.type_name)
        if name not in schemas:
            schemas[name] = enum_schema(field.type_name)
        base = {"$ref": f"#/components/schemas/{name}"}
    else:
        base = dict(SCALARS[field.type])
    if field.label == F.LABEL_REPEATED:
        return {"type": "array", "items": base}
    return base


def message_ref(full):
    if full in WELL_KNOWN:
        return dict(WELL_KNOWN[full])
    name = schema_name(full)
    if name not in schemas:
        schemas[name] = {}  # placeholder against recursion
        m = messages[full]
        file_name, path = locations[full]
        props = {}
        for i, f in enumerate(m.field):
            s = field_schema(f)
            doc = comment_of(file_name, list(path) + [2, i])
            if doc and "$ref" not in s:
                s["description"] = doc
            elif doc:
                s = {"allOf": [s], "description": doc}
            props[f.json_name or lower_camel(f.name)] = s
        out = {"type": "object", "properties": props}
        doc = comment_of(file_name, list(path))
        if doc:
            out["description"] = doc
        schemas[name] = out
    return {"$ref": f"#/components/schemas/{name}"}


def singular(collection):
    known = {"cases": "case", "statutes": "statute", "provisions": "provision",
             "advice": "advice", "evidence": "evidence", "checklist": "item",
             "notes": "note", "webhooks": "webhook", "events": "event"}
    return known.get(collection, collection[:-1] if collection.endswith("s") else collection)


def convert_path(template):
    """`/v1/{name=cases/*}:brief` → (`/v1/cases/{case}:brief`, [(param, field, prefix)])."""
    params = []
    out = []
    pos = 0
    for m in re.finditer(r"\{([^}=]+)(?:=([^}]*))?\}", template):
        out.append(template[pos:m.start()])
        field, pattern = m.group(1), m.group(2) or "*"
        segments = pattern.split("/")
        rendered = []
        for i, seg in enumerate(segments):
            if seg in ("*", "**"):
                coll = segments[i - 1] if i > 0 else field.split(".")[-1]
                name = singular(coll)
                used = {p[0] for p in params}
                while name in used:
                    name += "_"
                params.append((name, field, "/".join(segments[:i])))
                rendered.append("{" + name + "}")
            else:
                rendered.append(seg)
        out.append("/".join(rendered))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), params


def query_parameters(message_full, skip, prefix=""):
    """Every scalar, enum or repeated scalar field, nested messages dotted."""
    out = []
    m = messages[message_full]
    file_name, path = locations[message_full]
    for i, f in enumerate(m.field):
        if f.name in skip and not prefix:
            continue
        json_name = prefix + (f.json_name or lower_camel(f.name))
        if f.type == F.TYPE_MESSAGE:
            if f.type_name in WELL_KNOWN:
                s = dict(WELL_KNOWN[f.type_name])
            elif messages[f.type_name].options.map_entry or f.label == F.LABEL_REPEATED:
                continue
            elif len(prefix.split(".")) < 3:
                out += query_parameters(f.type_name, set(), json_name + ".")
                continue
            else:
                continue
        else:
            s = field_schema(f)
        p = {"name": json_name, "in": "query", "required": False, "schema": s}
        doc = comment_of(file_name, list(path) + [2, i])
        if doc:
            p["description"] = doc
        if s.get("type") == "array":
            p["style"], p["explode"] = "form", True
        out.append(p)
    return out


EXAMPLES = {
    ("get", "/v1/statutes/{statute}/provisions/{provision}"):
        {"statute": "public-security-administration-punishments", "provision": "art_42",
         "asOf": "2020-01-01"},
    ("post", "/v1/cases"): {"client": {"id": "crm-77", "displayName": "张三",
                                       "phone": "13812345678"},
                            "leakedData": ["LEAKED_DATA_PHONE"],
                            "summary": "接到冒充客服的诈骗电话"},
    ("post", "/v1/citations:resolve"): {"text": "《治安管理处罚法》第四十二条第六项",
                                         "asOf": "2020-01-01"},
}

doc = {
    "openapi": "3.0.3",
    "info": {"title": "Counsel API", "version": "v1",
             "description": "The HTTP/JSON routes of the Counsel gateway, generated from the "
                            "google.api.http rules of the protos. Authenticate with "
                            "`authorization: Bearer <key>`, or in a browser with the session "
                            "cookie from `POST /v1/sessions` (then send `x-csrf-token` on "
                            "requests that change state). Errors are `google.rpc.Status`."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}, {"session": []}],
    "tags": [],
    "paths": {},
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An API key, `ck_<id>_<secret>`."},
            "session": {"type": "apiKey", "in": "cookie", "name": "counsel_session",
                        "description": "A browser session from `POST /v1/sessions`."},
        },
        "schemas": {},
        "responses": {},
    },
}
status_ref = message_ref(".google.rpc.Status")
doc["components"]["responses"]["Error"] = {
    "description": "An error: a google.rpc.Status with details, under the standard gRPC to "
                   "HTTP status mapping.",
    "content": {"application/json": {"schema": status_ref}}}

for f in fds.file:
    if f.name not in PROTOS:
        continue
    for si, service in enumerate(f.service):
        doc["tags"].append({"name": service.name,
                            "description": comment_of(f.name, [6, si]) or service.name})
        for mi, method in enumerate(service.method):
            rule = method.options.Extensions[annotations_pb2.http]
            kind = rule.WhichOneof("pattern")
            if kind is None or kind == "custom":
                continue
            http_method = kind
            template = getattr(rule, kind)
            path, params = convert_path(template)
            bound = {p[1].split(".")[0] for p in params}
            op = {"operationId": f"{service.name}_{method.name}", "tags": [service.name],
                  "summary": method.name,
                  "parameters": [{"name": name, "in": "path", "required": True,
                                  "schema": {"type": "string"},
                                  "description": f"`{prefix}/{{{name}}}` of `{field}`"}
                                 for name, field, prefix in params],
                  "responses": {"default": {"$ref": "#/components/responses/Error"}}}
            description = comment_of(f.name, [6, si, 2, mi])
            if description:
                op["description"] = description
            if rule.body == "*":
                skip = bound | {fl.name for fl in messages[method.input_type].field}
            elif rule.body:
                skip = bound | {rule.body}
            else:
                skip = bound
            op["parameters"] += query_parameters(method.input_type, skip)
            if rule.body:
                if rule.body == "*":
                    body_schema = message_ref(method.input_type)
                else:
                    bf = next(fl for fl in messages[method.input_type].field
                              if fl.name == rule.body)
                    body_schema = field_schema(bf)
                content = {"schema": body_schema}
                example = EXAMPLES.get((http_method, path))
                if example:
                    content["example"] = example
                op["requestBody"] = {"required": True, "content": {"application/json": content}}
            elif (http_method, path) in EXAMPLES:
                ex = EXAMPLES[(http_method, path)]
                for p in op["parameters"]:
                    if p["name"] in ex:
                        p["example"] = ex[p["name"]]
            out_schema = message_ref(method.output_type)
            if method.name == "AddEvidence":
                op["requestBody"]["content"]["multipart/form-data"] = {
                    "schema": {"type": "object", "required": ["evidence"], "properties": {
                        "evidence": message_ref(".counsel.cases.v1.Evidence"),
                        "file": {"type": "string", "format": "binary",
                                 "description": "The attachment (at most 20 MiB); its file "
                                                "name and type fill the attachment's when "
                                                "`evidence` names none."},
                        "requestId": {"type": "string"},
                        "attachmentSha256": {"type": "string"}}},
                    "encoding": {"evidence": {"contentType": "application/json"}}}
            if method.name == "ReadEvidenceAttachment":
                op["parameters"].append({
                    "name": "Range", "in": "header", "required": False,
                    "schema": {"type": "string"}, "example": "bytes=0-65535",
                    "description": "One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); "
                                   "anything else sends the whole attachment."})
                headers = {
                    "Content-Disposition": {"schema": {"type": "string"}},
                    "Repr-Digest": {"schema": {"type": "string"},
                                    "description": "RFC 9530: `sha-256=:base64:` of the "
                                                   "whole attachment."},
                    "Content-Length": {"schema": {"type": "integer"}}}
                binary = {"application/octet-stream": {"schema": {"type": "string",
                                                                  "format": "binary"}}}
                op["responses"]["200"] = {"description": "The attachment's bytes, with its "
                                                         "content type.",
                                          "headers": headers, "content": binary}
                op["responses"]["206"] = {"description": "The requested range.",
                                          "headers": dict(headers, **{"Content-Range": {
                                              "schema": {"type": "string"}}}),
                                          "content": binary}
                op["responses"]["416"] = {"$ref": "#/components/responses/Error"}
            elif method.server_streaming:
                op["responses"]["200"] = {
                    "description": "Server-sent events (`change`, `bookmark`, `problem`; `id:` "
                                   "resumes) with `Accept: text/event-stream`, NDJSON otherwise.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}},
                                "application/x-ndjson": {"schema": out_schema}}}
            else:
                op["responses"]["200"] = {"description": "OK",
                                          "content": {"application/json": {"schema": out_schema}}}
            doc["paths"].setdefault(path, {})[http_method] = op

session_schema = {"type": "object", "properties": {
    "tenant": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}},
    "clientId": {"type": "string"}, "expireTime": {"type": "string", "format": "date-time"},
    "csrfToken": {"type": "string"}}}
doc["components"]["schemas"]["Session"] = session_schema
session_ok = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}}
doc["paths"]["/v1/sessions"] = {"post": {
    "operationId": "Sessions_Create", "tags": ["Sessions"], "security": [],
    "summary": "Exchange an API key for a browser session cookie",
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["apiKey"],
        "properties": {"apiKey": {"type": "string"}}}}}},
    "responses": {"201": dict(description="The session: `Set-Cookie: counsel_session=…; HttpOnly; "
                                          "SameSite=Strict; Path=/`", **session_ok),
                  "default": {"$ref": "#/components/responses/Error"}}}}
doc["paths"]["/v1/sessions/current"] = {
    "get": {"operationId": "Sessions_Get", "tags": ["Sessions"], "security": [{"session": []}],
            "summary": "The current session",
            "responses": {"200": dict(description="OK", **session_ok),
                          "default": {"$ref": "#/components/responses/Error"}}},
    "delete": {"operationId": "Sessions_Delete", "tags": ["Sessions"],
               "security": [{"session": []}], "summary": "Sign out",
               "parameters": [{"name": "x-csrf-token", "in": "header", "required": True,
                               "schema": {"type": "string"}}],
               "responses": {"204": {"description": "Ended"},
                             "default": {"$ref": "#/components/responses/Error"}}}}
doc["tags"].append({"name": "Sessions", "description": "Browser sessions"})
for path, summary in (("/healthz", "Alive"), ("/readyz", "Both backends serving")):
    doc["paths"][path] = {"get": {"operationId": path.strip("/"), "tags": ["Health"],
                                  "security": [], "summary": summary,
                                  "responses": {"200": {"description": "OK"},
                                                "default": {"$ref":
                                                            "#/components/responses/Error"}}}}
doc["tags"].append({"name": "Health", "description": "Liveness and readiness"})
doc["components"]["schemas"].update(schemas)

body = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True)
open(out_json, "w", encoding="utf-8").write(body)
# A raw string literal; the document has no ")openapi\"" in it.
with open(out_cc, "w", encoding="utf-8") as fh:
    fh.write("// Generated by gateway/openapi/make_openapi.py; do not edit.\n")
    fh.write('#include "gateway/openapi/openapi.h"\n')
    fh.write("namespace counsel::gateway {\n")
    fh.write('const char kOpenApiJson[] = R"openapi(' + body + ')openapi";\n')
    fh.write("}  // namespace counsel::gateway\n")
shutil.rmtree(work)
