"""The sandbox's Flask application: routing, authentication, fault hooks, Tastypie discovery and the
generic list/detail views every resource goes through.

What each resource holds and allows lives in its provider (api_people, api_activity, api_gps,
api_study, api_data); the study and its signals in `world` (`study`, `physiology`), the files in
`formats` and `exchange`; ground truth and the clock in `api_sandbox`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from . import api_activity, api_data, api_gps, api_people, api_sandbox, api_study
from .api import Ctx, Provider, json_body, json_response
from .auth import Principal
from .state import Credentials, SandboxState, build_state  # noqa: F401  (re-exported for callers)
from .tastypie import ApiError, paginate


def all_providers() -> dict[str, Provider]:
    providers = (
        *api_people.PROVIDERS,
        *api_activity.PROVIDERS,
        *api_gps.PROVIDERS,
        *api_study.PROVIDERS,
        *api_data.providers(),
    )
    return {p.definition.name: p for p in providers}


def create_app(state: SandboxState) -> Flask:
    app = Flask("hexo_sandbox")
    app.config["SANDBOX"] = state
    providers = all_providers()

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return json_response({"error": err.message}, err.status, err.headers)

    @app.errorhandler(404)
    def _not_found(_err):
        return json_response({"error": "Not found."}, 404)

    @app.errorhandler(405)
    def _not_allowed(_err):
        return json_response({"error": "Method not allowed."}, 405)

    def faulty() -> bool:
        return request.path.startswith("/api/") and not request.path.startswith("/api/connect/")

    @app.before_request
    def _inject_faults():
        return state.faults.before_request(request) if faulty() else None

    @app.after_request
    def _maybe_truncate(response: Response):
        return state.faults.after_request(request, response) if faulty() else response

    # -- OAuth2 ---------------------------------------------------------------------------------------

    @app.post("/api/connect/oauth2/token/")
    def token():
        return json_response(state.auth.token_endpoint(request.headers.get("Authorization"), request.form.to_dict()))

    @app.get("/api/connect/oauth2/auth/")
    def authorize():
        location = state.auth.authorize(request.headers.get("Authorization"), request.args.to_dict())
        return Response(status=302, headers={"Location": location})

    def principal() -> Principal:
        raw = request.environ.get("RAW_URI") or request.full_path
        full_url = f"{request.scheme}://{request.host}{raw}"
        if full_url.endswith("?") and "?" not in (request.environ.get("RAW_URI") or ""):
            full_url = full_url[:-1]
        return state.auth.authenticate(request.headers, full_url)

    def context() -> Ctx:
        return Ctx(state, principal(), request)

    # -- discovery (Tastypie: GET /api/ and /api/<name>/schema/) -----------------------------------------

    @app.get("/api/")
    def index():
        principal()
        return json_response(
            {
                name: {"list_endpoint": p.definition.list_endpoint, "schema": f"{p.definition.list_endpoint}schema/"}
                for name, p in sorted(providers.items())
            }
        )

    @app.get("/api/<name>/schema/")
    def schema(name: str):
        principal()
        return json_response(provider_for(name).definition.schema())

    def provider_for(name: str) -> Provider:
        provider = providers.get(name)
        if provider is None:
            raise ApiError(404, f"No resource named '{name}'.")
        return provider

    # -- list and detail views ------------------------------------------------------------------------

    @app.route("/api/<name>/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def list_view(name: str):
        provider = provider_for(name)
        definition = provider.definition
        if request.method.lower() not in definition.list_methods:
            raise ApiError(405, f"Method {request.method} is not allowed on the {name} list.")
        ctx = context()
        if request.method == "GET":
            custom = provider.list_response(ctx)
            if custom is not None:
                return custom
            args = list(request.args.items(multi=True))
            query = definition.parse_query(args)
            rows = definition.apply(provider.rows(ctx, query), query)
            page, meta = paginate(rows, query, request.path, args)
            meta.update(provider.list_meta(ctx, rows, query))
            return json_response({"meta": meta, "objects": [provider.serialize(ctx, r, query.extra) for r in page]})
        require_write(ctx)
        with state.lock:  # writes one at a time (readers iterate snapshots)
            return write_list(provider, ctx, name)

    def write_list(provider: Provider, ctx: Ctx, name: str):
        if request.method == "POST":
            body = None if name == "import" else json_body(request)
            row = provider.create(ctx, body)
            out = provider.serialize(ctx, row, {})
            return json_response(out, 201, {"Location": out.get("resource_uri", "")})
        # PATCH on a list: Tastypie's bulk form {"objects": [...]} (update those with a resource_uri)
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("objects"), list):
            raise ApiError(400, 'PATCH on a list takes {"objects": [...]}.')
        done = []
        for obj in body["objects"]:
            if not isinstance(obj, dict):
                raise ApiError(400, "Each object must be a JSON object.")
            if obj.get("resource_uri"):
                row = find(provider, ctx, str(obj["resource_uri"]).rstrip("/").rpartition("/")[2])
                provider.update(ctx, row, {k: v for k, v in obj.items() if k != "resource_uri"}, True)
                row = find(provider, ctx, str(row[provider.definition.id_field]))
            else:
                row = provider.create(ctx, obj)
            done.append(provider.serialize(ctx, row, {}))
        return json_response({"objects": done}, 202)

    @app.route("/api/<name>/<obj_id>/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def detail_view(name: str, obj_id: str):
        provider = provider_for(name)
        if request.method.lower() not in provider.definition.detail_methods:
            raise ApiError(405, f"Method {request.method} is not allowed on a {name} detail.")
        ctx = context()
        row = find(provider, ctx, obj_id)
        if request.method == "GET":
            custom = provider.detail_response(ctx, row)
            if custom is not None:
                return custom
            return json_response(provider.serialize(ctx, row, request.args.to_dict()))
        require_write(ctx)
        with state.lock:
            if request.method == "DELETE":
                provider.delete(ctx, row)
                return Response(status=204)
            body = json_body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object.")
            provider.update(ctx, row, body, request.method == "PATCH")
            return json_response(provider.serialize(ctx, find(provider, ctx, obj_id), {}), 202)

    def find(provider: Provider, ctx: Ctx, obj_id: str) -> dict[str, Any]:
        row = provider.find(ctx, obj_id)
        if row is None:
            raise ApiError(404, f"No {provider.definition.name} with id {obj_id}.")
        return row

    def require_write(ctx: Ctx) -> None:
        if ctx.who.scope != "readwrite":
            raise ApiError(403, "This token's scope is readonly.")

    api_sandbox.register(app, state, principal)
    return app
