"""Schemathesis hooks for fuzzing this service; loaded by soak/fuzz.mjs.

Authentication: every protected operation is reached with the token of a
freshly created organization. Fuzzing logs out, changes credentials and
deletes organizations, so a token can die at any moment; Schemathesis then
calls get() again (it re-authenticates on 401) and a new organization is made.
"""

import json
import os
import re
import secrets

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

BASE_URL = os.environ["FUZZ_BASE_URL"]
PASSWORD = f"fuzzing passphrase {secrets.token_hex(4)}"


@schemathesis.auth()
class FreshOrganizationToken:
    def get(self, case, ctx):
        suffix = secrets.token_hex(6)
        email = f"fuzz-{suffix}@example.test"
        created = requests.post(
            f"{BASE_URL}/org/create",
            json={"organization_name": f"Fuzz {suffix}", "email": email, "password": PASSWORD},
            timeout=10,
        )
        created.raise_for_status()
        login = requests.post(
            f"{BASE_URL}/admin/login", json={"email": email, "password": PASSWORD}, timeout=10
        )
        login.raise_for_status()
        return login.json()["access_token"]

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


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


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def _body(case) -> dict:
    return case.body if isinstance(case.body, dict) else {}


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
