"""web: GET /openapi.json (the whole HTTP surface, OpenAPI 3.1) and GET /docs, an HTML page rendered here
from that document: nothing is loaded from elsewhere, so it works on a network without a CDN."""

from __future__ import annotations

import json
from functools import cache

from flask import current_app, render_template_string
from flask_smorest import Blueprint, current_api
from markupsafe import Markup, escape

bp = Blueprint("docs", __name__, description="This document, and a page to read it.")

METHODS = ("get", "post", "put", "patch", "delete")


@bp.route("/openapi.json", methods=["GET"])
@bp.response(200, {"type": "object", "description": "An OpenAPI 3.1 document."})
def openapi_json():
    """The OpenAPI document"""
    return current_app.response_class(json.dumps(_spec(), indent=2), mimetype="application/json")


@bp.route("/docs", methods=["GET"])
@bp.response(200, {"type": "string"}, content_type="text/html")
def docs_page():
    """The API reference, as a page"""
    spec = _spec()
    operations = [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items() if method in METHODS
    ]
    html = render_template_string(
        _PAGE, spec=spec, operations=operations, schemas=spec.get("components", {}).get("schemas", {}),
        responses=spec.get("components", {}).get("responses", {}), type_of=_type_of,
        pretty=lambda value: json.dumps(value, indent=2, ensure_ascii=False),
    )
    return current_app.response_class(html, mimetype="text/html")


def _spec() -> dict:
    return _spec_of(current_api._get_current_object())


@cache
def _spec_of(api) -> dict:
    # Blueprints are all registered before the first request; the document no longer changes.
    return api.spec.to_dict()


def _type_of(schema: dict | None) -> Markup:
    """A schema as a short line of HTML: `string (enum: a, b)`, `array of <a>Campaign</a>`, …"""
    if not schema:
        return Markup("any")
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    if "anyOf" in schema or "oneOf" in schema:
        return Markup(" | ").join(_type_of(s) for s in schema.get("anyOf") or schema["oneOf"])
    kind = schema.get("type", "any")
    kinds = [kind] if isinstance(kind, str) else list(kind)
    text = Markup(" | ").join(
        Markup("array of ") + _type_of(schema.get("items")) if k == "array" else escape(k) for k in kinds
    )
    facts = [f"{key}: {schema[key]}" for key in ("format", "pattern", "minimum", "exclusiveMinimum", "maximum",
                                                   "minLength", "maxLength", "minItems", "maxItems", "default")
             if key in schema]
    if "enum" in schema:
        facts.insert(0, "one of " + ", ".join("null" if v is None else str(v) for v in schema["enum"]))
    if facts:
        text += Markup(' <span class="facts">({})</span>').format("; ".join(facts))
    return text


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ spec.info.title }} {{ spec.info.version }} — API reference</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }
code, .path { font-family: ui-monospace, monospace; }
section.op { border: 1px solid #ddd; border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }
.method { display: inline-block; min-width: 4rem; font-weight: bold; text-transform: uppercase; }
.get { color: #0a6; } .post { color: #06c; } .put, .patch { color: #b70; } .delete { color: #c22; }
table { border-collapse: collapse; margin: .3rem 0 .8rem; } td, th { border: 1px solid #ddd; padding: .2rem .5rem;
text-align: left; vertical-align: top; } .facts { color: #666; font-size: 90%; } h4 { margin: .6rem 0 .2rem; }
</style></head><body>
<h1>{{ spec.info.title }} <small>{{ spec.info.version }}</small></h1>
<p>{{ spec.info.description }}</p>
<p>The machine-readable document: <a href="openapi.json"><code>/openapi.json</code></a> (OpenAPI {{ spec.openapi }}).</p>
<h2>Endpoints</h2>
<ul>{% for path, method, op in operations %}
<li><a href="#{{ op.operationId or (method ~ path) }}"><span class="method {{ method }}">{{ method }}</span>
<span class="path">{{ path }}</span></a> — {{ op.summary }}</li>{% endfor %}</ul>
{% for path, method, op in operations %}
<section class="op" id="{{ op.operationId or (method ~ path) }}">
<h3><span class="method {{ method }}">{{ method }}</span> <span class="path">{{ path }}</span></h3>
<p><strong>{{ op.summary }}</strong></p>{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.security %}<p>Authentication: {% for s in op.security %}{% for name in s %}<code>{{ name }}</code>
(Authorization: Bearer …){% endfor %}{% endfor %}</p>{% endif %}
{% set params = (spec.paths[path].parameters or []) + (op.parameters or []) %}
{% if params %}<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>description</th></tr>
{% for p in params %}<tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td><td>{{ "yes" if p.required else "no" }}</td>
<td>{{ type_of(p.schema) }}</td><td>{{ p.description or p.schema.description or "" }}</td></tr>{% endfor %}</table>{% endif %}
{% if op.requestBody %}<h4>Request body</h4><table>{% for ctype, media in op.requestBody.content.items() %}
<tr><td><code>{{ ctype }}</code></td><td>{{ type_of(media.schema) }}</td></tr>{% endfor %}</table>
{% for ctype, media in op.requestBody.content.items() if media.example %}<p>Example:</p>
<pre>{{ pretty(media.example) }}</pre>{% endfor %}{% endif %}
<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>
{% for status, resp in op.responses|dictsort %}{% set r = responses[resp["$ref"].rsplit("/", 1)[-1]] if "$ref" in resp else resp %}
<tr><td>{{ status }}</td><td>{{ r.description }}</td><td>{% for ctype, media in (r.content or {}).items() %}
<code>{{ ctype }}</code> {{ type_of(media.schema) }}<br>{% endfor %}</td></tr>{% endfor %}</table>
</section>{% endfor %}
<h2>Schemas</h2>
{% for name, schema in schemas.items() %}<section id="schema-{{ name }}"><h3>{{ name }}</h3>
{% if schema.description %}<p>{{ schema.description }}</p>{% endif %}
{% if schema.properties %}<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>
{% for field, prop in schema.properties.items() %}<tr><td><code>{{ field }}</code></td><td>{{ type_of(prop) }}</td>
<td>{{ "yes" if field in (schema.required or []) else "" }}</td><td>{{ prop.description or "" }}</td></tr>{% endfor %}
</table>{% if schema.additionalProperties is false %}<p class="facts">Other fields are rejected.</p>{% endif %}
{% else %}<p>{{ type_of(schema) }}</p>{% endif %}</section>{% endfor %}
</body></html>
"""
