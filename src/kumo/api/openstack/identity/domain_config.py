"""Domain-specific configuration (``/v3/domains/{id}/config``), as Keystone stores it.

Keystone accepts only the ``identity`` and ``ldap`` groups and a whitelist of options in
them. kumo keeps every domain in its own store (no LDAP driver), so, as in a Keystone with
``domain_specific_drivers_enabled = false``, the configuration is kept and served but does
not change how the domain's users are looked up. It lives on the Domain object
(``spec.config``), so it goes with its domain.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import identity as m

from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from .resources import admin
from .views import get_obj, save

Obj = dict[str, Any]
DEFAULTS: dict[str, Obj] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {"url": "ldap://localhost", "user": None, "suffix": "cn=example,cn=com",
             "query_scope": "one", "page_size": 0, "user_tree_dn": None,
             "user_filter": None, "user_objectclass": "inetOrgPerson",
             "user_id_attribute": "cn", "user_name_attribute": "sn",
             "user_mail_attribute": "mail", "user_enabled_attribute": "enabled",
             "group_tree_dn": None, "group_filter": None,
             "group_objectclass": "groupOfNames", "group_id_attribute": "cn",
             "group_name_attribute": "ou", "group_member_attribute": "member",
             "use_tls": False, "tls_req_cert": "demand"},
}
SENSITIVE = {"ldap": {"password"}}


def _allowed(group: str, option: str | None = None) -> None:
    if group not in DEFAULTS:
        raise ApiError(403, f"Invalid domain specific configuration: group {group} is not "
                            "supported (identity, ldap).")
    if option is not None and option not in DEFAULTS[group] and \
            option not in SENSITIVE.get(group, set()):
        raise ApiError(403, f"Invalid domain specific configuration: option {option} in "
                            f"group {group} is not supported.")


def _valid(config: Any) -> dict[str, Obj]:
    if not isinstance(config, dict) or not config:
        raise ApiError(400, "Invalid input for field 'config': a non-empty object.")
    for group, opts in config.items():
        _allowed(group)
        if not isinstance(opts, dict):
            raise ApiError(400, f"Invalid input for field 'config.{group}': an object.")
        for opt in opts:
            _allowed(group, opt)
    return config


def _public(config: dict[str, Obj]) -> dict[str, Obj]:
    """What Keystone shows: sensitive options (the LDAP password) are never returned."""
    return {g: {k: v for k, v in opts.items() if k not in SENSITIVE.get(g, set())}
            for g, opts in config.items()}


def _pick(config: dict[str, Obj], group: str | None, option: str | None,
          what: str) -> Obj:
    if group is None:
        return config
    _allowed(group, option)
    if group not in config or (option is not None and option not in config[group]):
        raise ApiError(404, f"Could not find {what}.")
    if option is None:
        return {group: config[group]}
    return {option: config[group][option]}


async def domain_config(request: Request) -> Response:
    """GET/PUT/PATCH/DELETE of a domain's config, one group of it or one option."""
    await admin(request)
    p = request.path_params
    group, option = p.get("group"), p.get("option")
    obj = await get_obj(request, m.DOMAIN, p["id"], "domain")
    config: dict[str, Obj] = copy.deepcopy(obj["spec"].get("config") or {})
    what = f"domain config for domain {p['id']}"
    if request.method == "GET":
        if not config:
            raise ApiError(404, f"Could not find {what}.")
        return JSONResponse({"config": _pick(_public(config), group, option, what)})
    status = 200
    if request.method == "PUT":
        if group is not None:
            raise ApiError(405, "The whole configuration is created with PUT "
                                f"/v3/domains/{p['id']}/config; groups are PATCHed.")
        status = 200 if config else 201
        config = _valid((await read_json(request)).get("config"))
    elif request.method == "PATCH":
        config = _merged(config, (await read_json(request)).get("config"), group, option,
                         what)
    else:
        config = _removed(config, group, option, what)
    obj["spec"]["config"] = config or None
    await save(runtime(request), obj)
    if request.method == "DELETE":
        return Response(status_code=204)
    return JSONResponse({"config": _public(config)}, status_code=status)


def _merged(config: dict[str, Obj], patch: Any, group: str | None, option: str | None,
            what: str) -> dict[str, Obj]:
    if not config:
        raise ApiError(404, f"Could not find {what}.")
    if option is not None and group is not None:
        patch = {group: patch}
    patch = _valid(patch)
    if group is not None and set(patch) != {group}:
        raise ApiError(400, f"Only the group {group} may be updated here.")
    for g, opts in patch.items():
        config.setdefault(g, {}).update(opts)
    return config


def _removed(config: dict[str, Obj], group: str | None, option: str | None,
             what: str) -> dict[str, Obj]:
    if not config:
        raise ApiError(404, f"Could not find {what}.")
    _pick(config, group, option, what)
    if group is None:
        return {}
    if option is None:
        config.pop(group)
    else:
        config[group].pop(option)
        if not config[group]:
            config.pop(group)
    return config


async def default_config(request: Request) -> Response:
    """GET /domains/config/default[/{group}[/{option}]]: Keystone's defaults."""
    await admin(request)
    group, option = request.path_params.get("group"), request.path_params.get("option")
    return JSONResponse({"config": _pick(DEFAULTS, group, option, "default config")})
