"""Schemathesis hooks for fuzzing this service; loaded by tools/soak/fuzz.ts.

Authentication: every protected operation is fuzzed with a valid principal
so that its handler, not only its guard, meets the
generated input:

- GET /org/list: the super admin, whom tools/soak/fuzz.ts bootstraps from
  FUZZ_SUPERADMIN_EMAIL / FUZZ_SUPERADMIN_PASSWORD;
- POST /org/move: the super admin too, and schema-valid cases move an
  organization made for that case to FUZZ_MOVE_CLUSTER (a second database
  server that tools/soak/fuzz.ts starts);
- GET /org/operations/{id}: the owner of an organization made for the case,
  and schema-valid cases ask for the operation of a rename it started;
- DELETE /org/delete: the owner of an organization made for that one case,
  and schema-valid cases name that organization, so deletes really happen;
- everything else: the token of a freshly created organization. Fuzzing logs
  out, changes credentials and deletes organizations, so a token can die at
  any moment; Schemathesis then calls get() again (it re-authenticates on
  401) and a new organization is made.

tools/soak/fuzz.ts fails the run when an operation never got a 2xx answer, so a
principal that cannot reach an operation shows up as a failure.
"""

import itertools
import json
import os
import re
import secrets
import threading

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

BASE_URL = os.environ["FUZZ_BASE_URL"]
PASSWORD = f"fuzzing passphrase {secrets.token_hex(4)}"


def _create_organization() -> dict:
    suffix = secrets.token_hex(6)
    name = f"Fuzz {suffix}"
    email = f"fuzz-{suffix}@example.test"
    created = requests.post(
        f"{BASE_URL}/org/create",
        json={"organization_name": name, "email": email, "password": PASSWORD},
        timeout=10,
    )
    created.raise_for_status()
    return {"name": name, "email": email}


def _fresh_organization() -> dict:
    org = _create_organization()
    login = requests.post(
        f"{BASE_URL}/admin/login", json={"email": org["email"], "password": PASSWORD}, timeout=10
    )
    login.raise_for_status()
    return {**org, "token": login.json()["access_token"]}


_turns = itertools.count()


def _every_other_turn() -> bool:
    return next(_turns) % 2 == 0


def _set_bearer(case, token: str) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def _body(case) -> dict:
    return case.body if isinstance(case.body, dict) else {}


# Providers are tried in order; the first whose filter matches the operation applies.


@schemathesis.auth().apply_to(method="GET", path="/org/list")
class SuperAdminToken:
    def get(self, case, ctx):
        login = requests.post(
            f"{BASE_URL}/admin/login",
            json={
                "email": os.environ["FUZZ_SUPERADMIN_EMAIL"],
                "password": os.environ["FUZZ_SUPERADMIN_PASSWORD"],
            },
            timeout=10,
        )
        login.raise_for_status()
        return login.json()["access_token"]

    def set(self, case, data, ctx):
        _set_bearer(case, data)


def _superadmin_token() -> str:
    login = requests.post(
        f"{BASE_URL}/admin/login",
        json={
            "email": os.environ["FUZZ_SUPERADMIN_EMAIL"],
            "password": os.environ["FUZZ_SUPERADMIN_PASSWORD"],
        },
        timeout=10,
    )
    login.raise_for_status()
    return login.json()["access_token"]


# No caching: every schema-valid case moves an organization of its own.
@schemathesis.auth(refresh_interval=None).apply_to(method="POST", path="/org/move")
class OrganizationToMove:
    def get(self, case, ctx):
        return {"token": _superadmin_token(), "org": _create_organization()}

    def set(self, case, data, ctx):
        _set_bearer(case, data["token"])
        if _positive(case):
            case.body = {
                **_body(case),
                "organization_name": data["org"]["name"],
                "cluster": os.environ["FUZZ_MOVE_CLUSTER"],
            }


# No caching: every schema-valid case reads an operation of its own.
@schemathesis.auth(refresh_interval=None).apply_to(method="GET", path="/org/operations/{id}")
class OperationToRead:
    def get(self, case, ctx):
        org = _fresh_organization()
        started = requests.put(
            f"{BASE_URL}/org/update",
            json={"new_organization_name": f"{org['name']} Renamed"},
            headers={"Authorization": f"Bearer {org['token']}", "Prefer": "respond-async"},
            timeout=10,
        )
        started.raise_for_status()
        return {"token": org["token"], "id": started.json().get("id")}

    def set(self, case, data, ctx):
        _set_bearer(case, data["token"])
        if _positive(case) and data["id"]:
            case.path_parameters = {**(case.path_parameters or {}), "id": data["id"]}


# No caching: every case deletes an organization of its own.
@schemathesis.auth(refresh_interval=None).apply_to(method="DELETE", path="/org/delete")
class OrganizationToDelete:
    def get(self, case, ctx):
        return _fresh_organization()

    def set(self, case, data, ctx):
        _set_bearer(case, data["token"])
        if not _positive(case):
            return
        # Name the organization where the case names one (both places agree, see
        # delete_names_one_organization), or in the query string.
        body = _body(case)
        if "organization_name" in body:
            case.body = {**body, "organization_name": data["name"]}
        if "organization_name" in (case.query or {}) or "organization_name" not in body:
            case.query = {**(case.query or {}), "organization_name": data["name"]}


def _create_with(token: str, path: str, body: dict) -> str:
    created = requests.post(
        f"{BASE_URL}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    created.raise_for_status()
    return created.json()["id"]


# Every other schema-valid case on /{id} operations addresses a real member or
# admin, made for it: generated ids name nothing, which only ever reaches the
# 404. Admins are managed by owners, and fuzzing demotes the cached token's
# admin now and then, so an admin target comes with an organization (and owner
# token) of its own.
def _real_member(token: str) -> tuple[str, str]:
    member = {"email": f"member-{secrets.token_hex(6)}@example.test", "name": "Fuzz member"}
    return token, _create_with(token, "/org/members", member)


def _real_admin(_token: str) -> tuple[str, str]:
    owner = _fresh_organization()["token"]
    admin = {"email": f"admin-{secrets.token_hex(6)}@example.test", "password": PASSWORD, "role": "admin"}
    return owner, _create_with(owner, "/org/admins", admin)


_REAL_TARGETS = {"/org/members/{id}": _real_member, "/org/admins/{id}": _real_admin}


def _with_real_credentials(case) -> None:
    """A credentials change by the owner of an organization made for it: the right
    current_password and, when the case names the organization, its name."""
    org = _fresh_organization()
    _set_bearer(case, org["token"])
    body = {**_body(case), "current_password": PASSWORD}
    if "organization_name" in body:
        body["organization_name"] = org["name"]
    case.body = body


@schemathesis.auth()
class FreshOrganizationToken:
    def get(self, case, ctx):
        return _fresh_organization()["token"]

    def set(self, case, data, ctx):
        _set_bearer(case, data)
        if not _positive(case):
            return
        if case.method.upper() == "PUT" and case.path == "/org/update":
            if _every_other_turn():
                _with_real_credentials(case)
            return
        make_target = _REAL_TARGETS.get(case.path)
        if make_target and _every_other_turn():
            try:
                token, target = make_target(data)
            except requests.HTTPError:
                return  # the token died meanwhile: the case runs as generated
            _set_bearer(case, token)
            case.path_parameters = {**(case.path_parameters or {}), "id": target}


# What JavaScript's String.prototype.trim() removes (the service's notion of whitespace).
_JS_WHITESPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _bcrypt_safe(value: str) -> bool:
    return 8 <= len(value.encode("utf-8")) <= 72 and value.strip(_JS_WHITESPACE) != ""


# `format: password` (src/common/decorators/validation.decorators.ts): 8 to 72
# UTF-8 bytes, not only whitespace. JSON Schema counts characters, so the
# document states the format and this is what the format means.
schemathesis.openapi.format(
    "password",
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=2,
        max_size=72,
    ).filter(_bcrypt_safe),
)


# --- Rules the service enforces that the document does not state -------------
# Each hook below only drops or adjusts schema-valid ("positive") cases that
# break one such rule, on one operation; every other case, and every check,
# still runs. A rule JSON Schema cannot express stays here for good; the others
# belong in their module's document, and their hook goes once it is there.


@schemathesis.hook("filter_case").apply_to(method="DELETE", path="/org/delete")
def delete_names_one_organization(ctx, case):
    # Permanent: the name may be given in the query or in the body, and when
    # both are given they must agree. JSON Schema cannot relate a query
    # parameter to a body field.
    query_name = (case.query or {}).get("organization_name")
    body_name = _body(case).get("organization_name")
    return not _positive(case) or query_name is None or body_name is None or query_name == body_name


@schemathesis.hook("filter_case").apply_to(method="PUT", path="/org/update")
def update_changes_something(ctx, case):
    # Not stated yet: UpdateOrganizationDto needs at least one of
    # new_organization_name, email and password, and current_password with
    # email or password (`anyOf` of `required` lists would say so; owner:
    # src/organizations).
    body = _body(case)
    changes = any(field in body for field in ("new_organization_name", "email", "password"))
    credentials = "email" in body or "password" in body
    return not _positive(case) or (changes and (not credentials or "current_password" in body))


# --- Schema-valid logins that succeed ---------------------------------------------
# Generated credentials never match, so without this a login would only ever be
# fuzzed failing. Every other schema-valid case uses a real account; the rest
# keep the generated values (the failure paths). Credentials changes get the
# same treatment in FreshOrganizationToken.

_login_account: dict = {}
_login_account_lock = threading.Lock()


@schemathesis.hook("map_case").apply_to(method="POST", path="/admin/login")
def login_with_real_credentials_at_times(ctx, case):
    if _positive(case) and isinstance(case.body, dict) and _every_other_turn():
        with _login_account_lock:
            if not _login_account:
                _login_account.update(_create_organization())
        case.body = {**case.body, "email": _login_account["email"], "password": PASSWORD}
    return case


@schemathesis.hook("filter_case").apply_to(method="GET", path="/org/list")
def list_query_has_no_types(ctx, case):
    # Permanent: a query string is text. An "incorrect type" for `after` or `q`
    # (null, true, 123) is sent as the text "null", "true", "123", each a valid
    # slug cursor and name prefix (an organization may be named "Null"), so no
    # server could reject it. Reached only with the super admin's token; before
    # that every case got 403.
    data = case.meta.phase.data if case.meta is not None else None
    return not (
        isinstance(data, CoveragePhaseData)
        and data.scenario == CoverageScenario.INCORRECT_TYPE
        and data.parameter in ("after", "q")
    )


_VISIBLE_ASCII_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@schemathesis.hook("filter_case").apply_to(method="POST", path="/org/create")
def idempotency_key_is_visible_ascii(ctx, case):
    # Not stated yet: the Idempotency-Key header is 1 to 255 visible ASCII
    # characters (a `pattern` on the header; owner: src/organizations, src/idempotency).
    key = (case.headers or {}).get("Idempotency-Key")
    return not _positive(case) or key is None or bool(_VISIBLE_ASCII_KEY.match(str(key)))


@schemathesis.hook("map_case").apply_to(method="POST", path="/org/create")
def idempotency_key_is_unique(ctx, case):
    # Not stated yet: a key reused with another body is 422, which the
    # operation does not declare (owner: src/organizations). Generated keys
    # repeat across cases, so each is made unique; replays are covered by
    # test/idempotency-and-migrations.e2e-spec.ts.
    key = (case.headers or {}).get("Idempotency-Key")
    if _positive(case) and key is not None and _VISIBLE_ASCII_KEY.match(str(key)):
        case.headers["Idempotency-Key"] = f"{str(key)[:240]}-{secrets.token_hex(6)}"
    return case


_METADATA_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def _flat_metadata(value) -> bool:
    if not isinstance(value, dict):
        return True  # not this rule's business: the schema's type decides
    if len(value) > 20 or len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > 2048:
        return False
    return all(
        _METADATA_KEY.match(key)
        and (item is None or isinstance(item, (str, bool)) or (isinstance(item, (int, float)) and abs(item) <= 2**53 - 1))
        for key, item in value.items()
    )


@schemathesis.hook("filter_case").apply_to(path_regex=r"^/org/members")
def member_body_follows_rules(ctx, case):
    # Not stated yet (owner: src/members): member metadata is a flat object of
    # at most 20 keys ([A-Za-z0-9_]) with scalar values, 2 kB at most; and an
    # update changes at least one of email, name, role and metadata.
    body = _body(case)
    if not _positive(case):
        return True
    if "metadata" in body and not _flat_metadata(body["metadata"]):
        return False
    return case.method.upper() != "PATCH" or any(
        field in body for field in ("email", "name", "role", "metadata")
    )
