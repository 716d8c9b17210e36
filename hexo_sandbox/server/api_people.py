"""People and access: user, account, profile, device, bundle, bundle_permission, oauthclient, oauth2token."""

from __future__ import annotations

from typing import Any

from ..world.catalog import BUNDLES
from ..world.study import BundlePermission, User
from . import resource_defs as R
from .api import Ctx, Provider, editable, iso, require_object, uri, uri_id
from .tastypie import ApiError, Query


def user_summary(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "first_name": user.first_name,
        "id": user.id,
        "last_name": user.last_name,
        "profile": f"/api/profile/{user.profile_id}/",
        "resource_uri": f"/api/user/{user.id}/",
        "username": user.username,
    }


def profile_json(user: User) -> dict[str, Any]:
    # Shaped like the seed's profile example (height and weight also at the top level).
    return {
        "date_of_birth": user.date_of_birth,
        "fitness": {"height": user.height_m, "weight": user.weight_kg},
        "gender": user.gender,
        "height": user.height_m,
        "id": user.profile_id,
        "preferences": None,
        "resource_uri": f"/api/profile/{user.profile_id}/",
        "unit_system": "metric",
        "user": f"/api/user/{user.id}/",
        "weight": user.weight_kg,
        "timezone": user.timezone,
    }


class UserProvider(Provider):
    definition = R.USER

    def rows(self, ctx: Ctx, query: Query):
        users = [ctx.study.users[i] for i in sorted(ctx.visible_users())]
        search = query.extra.get("search", "").lower()
        if search:
            users = [u for u in users if search in f"{u.username} {u.email} {u.first_name} {u.last_name}".lower()]
        return [{"id": u.id, "username": u.username, "email": u.email, "_obj": u} for u in users]

    def serialize(self, ctx, row, extra):
        return user_summary(row["_obj"])

    def update(self, ctx, row, body, partial):
        user = row["_obj"]
        if not ctx.can_write_for(user.id):
            raise ApiError(403, "You may not edit this user.")
        for key, value in editable(body, ("first_name", "last_name", "email", "username", "profile"), "user").items():
            if key in ("first_name", "last_name"):
                setattr(user, key, str(value))


class AccountProvider(Provider):
    """GET /api/account/: always the authenticated user only, with its profile nested (seed)."""

    definition = R.ACCOUNT

    def rows(self, ctx: Ctx, query: Query):
        u = ctx.study.users[ctx.user_id]
        return [{"id": u.id, "username": u.username, "email": u.email, "_obj": u}]

    def serialize(self, ctx, row, extra):
        user = row["_obj"]
        return {**user_summary(user), "is_staff": False, "profile": profile_json(user)}


class ProfileProvider(Provider):
    definition = R.PROFILE

    def rows(self, ctx: Ctx, query: Query):
        return [
            {"id": ctx.study.users[i].profile_id, "user": i, "_obj": ctx.study.users[i]}
            for i in sorted(ctx.visible_users())
        ]

    def serialize(self, ctx, row, extra):
        return profile_json(row["_obj"])

    def update(self, ctx, row, body, partial):
        user = row["_obj"]
        if not ctx.can_write_for(user.id):
            raise ApiError(403, "You may not edit this profile.")
        for key, value in editable(body, ("gender", "date_of_birth", "unit_system", "preferences"), "profile").items():
            if key in ("gender", "date_of_birth"):
                setattr(user, key, str(value))


class DeviceProvider(Provider):
    definition = R.DEVICE

    def rows(self, ctx: Ctx, query: Query):
        out = []
        for i in sorted(ctx.visible_users()):
            user = ctx.study.users[i]
            if user.device:
                out.append({"id": user.subject_index + 1, "deviceid": user.device, "_obj": user})
        return out

    def serialize(self, ctx, row, extra):
        user = row["_obj"]
        created = ctx.study.created
        return {
            "batt_end": 2480,
            "batt_start": 2590,
            "bt_addr": f"00:1B:{row['id']:02X}:00:00:{row['id']:02X}",
            "bt_info": "",
            "charge_time": 7200,
            "created": iso(created),
            "deviceid": user.device,
            "fw_end": "1.0.5",
            "fw_start": "1.0.5",
            "hw_rev": "B" if user.astroskin else "A",
            "id": row["id"],
            "last_modified": iso(created),
            "mcu_info": "",
            "model": 2 if user.astroskin else 1,
            "purchase_order": 0,
            "resource_uri": f"/api/device/{user.device}/",
            "serial": row["id"],
            "status": 0,
        }


class BundleProvider(Provider):
    definition = R.BUNDLE

    def rows(self, ctx: Ctx, query: Query):
        return [{"id": i, "name": n} for i, n in BUNDLES.items()]

    def serialize(self, ctx, row, extra):
        return {"id": row["id"], "name": row["name"], "resource_uri": uri("bundle", row["id"])}


class BundlePermissionProvider(Provider):
    """Coach/friend access (seed: "coach-athlete and friend relationship"). A user grants a bundle to
    another (POST as the target); both sides see the permission; either may DELETE it."""

    definition = R.BUNDLE_PERMISSION

    def rows(self, ctx: Ctx, query: Query):
        me = ctx.user_id
        return [
            {"id": p.id, "bundle": p.bundle_id, "user_allowed": p.user_allowed, "user_target": p.user_target, "_obj": p}
            for p in list(ctx.study.bundle_permissions.values())
            if me in (p.user_allowed, p.user_target)
        ]

    def serialize(self, ctx, row, extra):
        p: BundlePermission = row["_obj"]
        return {
            "bundle": uri("bundle", p.bundle_id),
            "id": p.id,
            "name": BUNDLES[p.bundle_id],
            "resource_uri": uri("bundle_permission", p.id),
            "user_allowed": uri("user", p.user_allowed),
            "user_target": uri("user", p.user_target),
        }

    def create(self, ctx, body):
        body = require_object(body)
        bundle = uri_id(body.get("bundle"), "bundle")
        allowed = uri_id(body.get("user_allowed"), "user")
        target = uri_id(body.get("user_target", ctx.user_id), "user")
        if bundle not in BUNDLES or allowed not in ctx.study.users:
            raise ApiError(400, "Give an existing bundle and user_allowed.")
        if target != ctx.user_id:
            raise ApiError(403, "Only the target user grants access to its own data.")
        study = ctx.study
        pid = ctx.state.next_id("bundle_permission", study.bundle_permissions)
        study.bundle_permissions[pid] = BundlePermission(pid, bundle, allowed, target)
        return self.find(ctx, str(pid))

    def delete(self, ctx, row):
        ctx.study.bundle_permissions.pop(row["id"], None)


class OAuthClientProvider(Provider):
    """The sandbox's one OAuth2 client, owned by the study owner. PATCH sets redirect_uris (seed)."""

    definition = R.OAUTHCLIENT

    def rows(self, ctx: Ctx, query: Query):
        if ctx.user_id != ctx.study.owner_id:
            return []
        return [{"id": 1, "_obj": ctx.state.credentials}]

    def serialize(self, ctx, row, extra):
        c = row["_obj"]
        return {
            "client_id": c.client_id,
            "default_realm": None,
            "grant_type": "password",
            "id": 1,
            "name": "hexo-pipeline sandbox",
            "realms": [],
            "redirect_uris": list(c.redirect_uris),
            "resource_uri": "/api/oauthclient/1/",
            "response_type": "code",
            "secret": c.client_secret,
            "status": "oauth2",
            "user": uri("user", ctx.study.owner_id),
        }

    def update(self, ctx, row, body, partial):
        values = editable(body, ("redirect_uris", "name"), "oauthclient")
        if "redirect_uris" in values:
            uris = values["redirect_uris"]
            if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
                raise ApiError(400, "redirect_uris must be a list of URIs.")
            plain = [
                u
                for u in uris
                if u.startswith("http://") and not u.startswith(("http://127.0.0.1", "http://localhost"))
            ]
            if plain:  # schema help: "Plain-text URIs (HTTP) are not allowed"; loopback allowed for tests
                raise ApiError(400, f"Plain-text URIs (HTTP) are not allowed: {plain}.")
            row["_obj"].redirect_uris = list(uris)


class OAuth2TokenProvider(Provider):
    """The authenticated user's live OAuth2 tokens; DELETE revokes one."""

    definition = R.OAUTH2TOKEN

    def rows(self, ctx: Ctx, query: Query):
        return [{"id": t.id, "_obj": t} for t in ctx.state.auth.tokens_of(ctx.user_id)]

    def serialize(self, ctx, row, extra):
        t = row["_obj"]
        left = max(0, int(t.expires_at - ctx.state.auth.clock()))
        return {
            "client": t.client_id,
            "expires_in": left,
            "resource_uri": uri("oauth2token", t.id),
            "scopes": t.scope,
            "token_type": "Bearer",
            "user": uri("user", t.user_id),
        }

    def delete(self, ctx, row):
        ctx.state.auth.revoke(row["id"])


PROVIDERS: tuple[Provider, ...] = (
    UserProvider(),
    AccountProvider(),
    ProfileProvider(),
    DeviceProvider(),
    BundleProvider(),
    BundlePermissionProvider(),
    OAuthClientProvider(),
    OAuth2TokenProvider(),
)
