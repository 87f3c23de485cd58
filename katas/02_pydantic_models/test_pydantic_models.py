"""Kata 02 · Pydantic models. Each test names the task it checks; the README says what to build."""

import copy
import json

import pytest
from fastapi.testclient import TestClient

import app as kata


@pytest.fixture
def client():
    # A crash comes back as a 500 response, as a real client would see it.
    with TestClient(kata.app, raise_server_exceptions=False) as client:
        yield client


def error_locs(response):
    """The `loc` of every error in a FastAPI 422 body as tuples, or [] for any other body."""
    try:
        return [tuple(error["loc"]) for error in response.json()["detail"]]
    except (ValueError, KeyError, TypeError):
        return []


def error_messages(response):
    try:
        return [str(error["msg"]) for error in response.json()["detail"]]
    except (ValueError, KeyError, TypeError):
        return []


DELETE = object()


def with_change(body, path, value):
    """A deep copy of `body` with the item at `path` replaced by `value` (or removed if DELETE)."""
    changed = copy.deepcopy(body)
    *parents, last = path
    target = changed
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return changed


# --- Task 1 · constraints -------------------------------------------------------------------

PRODUCT = {"name": "Desk lamp", "sku": "LMP-0042", "price": 24.5, "stock": 12}


@pytest.mark.task(1)
def test_valid_product_is_created_with_201_and_an_id(client):
    r = client.post("/products", json=PRODUCT)
    assert r.status_code == 201, f"POST /products {PRODUCT} → {r.status_code}, expected 201 Created"
    body = r.json()
    assert isinstance(body.get("id"), int), f"POST /products → {body}, expected an integer `id`"
    sent = {key: body.get(key) for key in PRODUCT}
    assert sent == PRODUCT, (
        f"POST /products → {body}, expected the product's fields back: {PRODUCT}"
    )


@pytest.mark.task(1)
def test_stock_defaults_to_zero(client):
    product = {key: value for key, value in PRODUCT.items() if key != "stock"}
    r = client.post("/products", json=product)
    assert r.status_code == 201, f"POST /products without stock → {r.status_code}, expected 201"
    assert r.json().get("stock") == 0, (
        f"POST /products without stock → {r.json()}, expected stock 0"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        pytest.param("name", "", "name is 1 to 40 characters", id="name-empty"),
        pytest.param("name", "x" * 41, "name is 1 to 40 characters", id="name-41-chars"),
        pytest.param("sku", "lmp-0042", "sku is AAA-0000: capitals, dash, digits", id="sku-lower"),
        pytest.param("sku", "LMP-042", "sku is AAA-0000: capitals, dash, digits", id="sku-short"),
        pytest.param("sku", "XLMP-00420", "the WHOLE sku must match AAA-0000", id="sku-inside"),
        pytest.param("price", 0, "price must be greater than 0", id="price-zero"),
        pytest.param("price", -3.5, "price must be greater than 0", id="price-negative"),
        pytest.param("price", 10_000.01, "price is at most 10000", id="price-too-high"),
        pytest.param("stock", -1, "stock is 0 or more", id="stock-negative"),
    ],
)
def test_each_constraint_violation_is_422_at_that_field(client, field, value, rule):
    r = client.post("/products", json={**PRODUCT, field: value})
    assert r.status_code == 422, (
        f"POST /products with {field}={value!r} → {r.status_code}, expected 422: {rule}"
    )
    assert error_locs(r) == [("body", field)], (
        f"POST /products with {field}={value!r} → errors at {error_locs(r)}, "
        f"expected exactly one at ('body', {field!r})"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("name", "x" * 40, id="name-40-chars"),
        pytest.param("name", "x", id="name-1-char"),
        pytest.param("price", 10_000, id="price-10000"),
        pytest.param("price", 0.01, id="price-0.01"),
        pytest.param("stock", 0, id="stock-0"),
    ],
)
def test_values_on_the_boundary_are_accepted(client, field, value):
    r = client.post("/products", json={**PRODUCT, field: value})
    assert r.status_code == 201, (
        f"POST /products with {field}={value!r} → {r.status_code} {r.text[:200]}, "
        "expected 201: the limit itself is allowed"
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("field", ["name", "sku", "price"])
def test_missing_required_field_is_422_at_that_field(client, field):
    product = {key: value for key, value in PRODUCT.items() if key != field}
    r = client.post("/products", json=product)
    assert r.status_code == 422, f"POST /products without {field} → {r.status_code}, expected 422"
    assert error_locs(r) == [("body", field)], (
        f"POST /products without {field} → errors at {error_locs(r)}, expected ('body', {field!r})"
    )


# --- Task 2 · parsing and coercion ----------------------------------------------------------


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("field", "sent", "parsed", "kind"),
    [
        pytest.param("price", "19.90", 19.9, float, id="price-numeric-string"),
        pytest.param("price", 5, 5.0, float, id="price-int"),
        pytest.param("stock", "7", 7, int, id="stock-numeric-string"),
        pytest.param("stock", 3.0, 3, int, id="stock-whole-float"),
    ],
)
def test_values_that_convert_cleanly_are_parsed(client, field, sent, parsed, kind):
    r = client.post("/products", json={**PRODUCT, field: sent})
    assert r.status_code == 201, (
        f"POST /products with {field}={sent!r} → {r.status_code} {r.text[:200]}, "
        f"expected 201: {sent!r} converts cleanly to {kind.__name__}"
    )
    got = r.json().get(field)
    assert type(got) is kind and got == parsed, (
        f"POST /products with {field}={sent!r} → {field}={got!r}, "
        f"expected the parsed {kind.__name__} {parsed!r} in the response"
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        pytest.param("stock", "seven", "not a number", id="stock-word"),
        pytest.param("stock", 2.5, "an int cannot have a fractional part", id="stock-fraction"),
        pytest.param("price", "cheap", "not a number", id="price-word"),
        pytest.param("price", [24.5], "a list is not a number", id="price-list"),
        pytest.param("name", 42, "Pydantic v2 does not turn numbers into strings", id="name-int"),
        pytest.param("sku", None, "sku is required and not nullable", id="sku-null"),
    ],
)
def test_values_of_the_wrong_type_are_422_at_that_field(client, field, value, why):
    r = client.post("/products", json={**PRODUCT, field: value})
    assert r.status_code == 422, (
        f"POST /products with {field}={value!r} → {r.status_code}, expected 422: {why}"
    )
    assert error_locs(r) == [("body", field)], (
        f"POST /products with {field}={value!r} → errors at {error_locs(r)}, "
        f"expected exactly one at ('body', {field!r})"
    )


# --- Task 3 · nested models and lists of models ---------------------------------------------

ORDER = {
    "customer": {
        "name": "Ada Lovelace",
        "address": {"street": "12 St James's Square", "city": "London", "country": "GB"},
    },
    "lines": [
        {"sku": "LMP-0042", "quantity": 2, "unit_price": 24.5},
        {"sku": "BLB-0007", "quantity": "3", "unit_price": "4.25"},
    ],
}


@pytest.mark.task(3)
def test_order_with_nested_customer_and_lines_is_created_with_a_total(client):
    r = client.post("/orders", json=ORDER)
    assert r.status_code == 201, f"POST /orders → {r.status_code} {r.text[:200]}, expected 201"
    body = r.json()
    assert isinstance(body.get("id"), int), f"POST /orders → {body}, expected an integer `id`"
    assert body.get("customer") == ORDER["customer"], (
        f"POST /orders → customer {body.get('customer')}, expected {ORDER['customer']}"
    )
    lines = body.get("lines")
    assert isinstance(lines, list) and len(lines) == 2, (
        f"POST /orders → lines {lines}, expected the 2 lines back"
    )
    assert lines[1] == {"sku": "BLB-0007", "quantity": 3, "unit_price": 4.25}, (
        f"POST /orders → second line {lines[1]}, expected quantity 3 and unit_price 4.25 as numbers"
    )
    assert body.get("total") == 61.75, (
        f"POST /orders → total {body.get('total')}, expected 61.75 (2 × 24.5 + 3 × 4.25)"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("lines", 1, "quantity"), 0, id="line-quantity-zero"),
        pytest.param(("lines", 0, "sku"), "lamp", id="line-sku-pattern"),
        pytest.param(("lines", 1, "unit_price"), DELETE, id="line-unit-price-missing"),
        pytest.param(("customer", "address", "country"), "Britain", id="country-pattern"),
        pytest.param(("customer", "name"), DELETE, id="customer-name-missing"),
        pytest.param(("customer",), "Ada Lovelace", id="customer-not-an-object"),
        pytest.param(("lines",), [], id="lines-empty"),
        pytest.param(("lines",), ORDER["lines"][0], id="lines-an-object"),
    ],
)
def test_a_nested_violation_is_422_at_the_full_path(client, path, value):
    r = client.post("/orders", json=with_change(ORDER, path, value))
    change = "without it" if value is DELETE else f"set to {value!r}"
    assert r.status_code == 422, (
        f"POST /orders with {'.'.join(map(str, path))} {change} → {r.status_code}, expected 422"
    )
    assert error_locs(r) == [("body", *path)], (
        f"POST /orders with {'.'.join(map(str, path))} {change} → errors at {error_locs(r)}, "
        f"expected exactly one at {('body', *path)}"
    )


# --- Task 4 · a validator across fields -----------------------------------------------------

BOOKING = {"room": "Blue", "guests": 2, "check_in": "2025-07-01", "check_out": "2025-07-04"}
RULE = "check_out must be after check_in"


@pytest.mark.task(4)
def test_valid_booking_is_created_with_nights_counted(client):
    r = client.post("/bookings", json=BOOKING)
    assert r.status_code == 201, f"POST /bookings → {r.status_code} {r.text[:200]}, expected 201"
    body = r.json()
    assert isinstance(body.get("id"), int), f"POST /bookings → {body}, expected an integer `id`"
    assert body.get("nights") == 3, (
        f"POST /bookings 2025-07-01 → 2025-07-04 → nights {body.get('nights')}, expected 3"
    )
    assert (body.get("check_in"), body.get("check_out")) == ("2025-07-01", "2025-07-04"), (
        f"POST /bookings → {body}, expected the dates back as ISO strings"
    )


@pytest.mark.task(4)
@pytest.mark.parametrize(
    "check_out",
    [pytest.param("2025-07-01", id="same-day"), pytest.param("2025-06-28", id="before")],
)
def test_check_out_not_after_check_in_is_422_with_a_readable_message(client, check_out):
    r = client.post("/bookings", json={**BOOKING, "check_out": check_out})
    assert r.status_code == 422, (
        f"POST /bookings check_in 2025-07-01, check_out {check_out} → {r.status_code}, "
        f"expected 422: {RULE}"
    )
    assert any(RULE in message for message in error_messages(r)), (
        f"POST /bookings check_out {check_out} → {r.text[:300]}, "
        f"expected a validation error whose msg contains {RULE!r}"
    )


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("check_in", "2025-02-30", id="check-in-not-a-date"),
        pytest.param("check_in", DELETE, id="check-in-missing"),
        pytest.param("check_out", "next week", id="check-out-not-a-date"),
        pytest.param("check_out", DELETE, id="check-out-missing"),
    ],
)
def test_a_bad_or_missing_date_is_422_at_that_field(client, field, value):
    r = client.post("/bookings", json=with_change(BOOKING, (field,), value))
    change = "without it" if value is DELETE else f"set to {value!r}"
    assert r.status_code == 422, (
        f"POST /bookings with {field} {change} → {r.status_code}, expected 422 "
        "(the cross-field check must cope with a date that failed or is missing)"
    )
    assert error_locs(r) == [("body", field)], (
        f"POST /bookings with {field} {change} → errors at {error_locs(r)}, "
        f"expected exactly one at ('body', {field!r})"
    )


# --- Task 5 · a response model that keeps secrets --------------------------------------------

PASSWORD = "correct horse battery staple"
USER = {"username": "ada_l", "password": PASSWORD, "full_name": "Ada Lovelace"}


def secret_keys(data):
    """Every key, at any depth, that names a password or a hash."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if "password" in str(key).lower() or "hash" in str(key).lower():
                found.append(key)
            found += secret_keys(value)
    elif isinstance(data, list):
        for item in data:
            found += secret_keys(item)
    return found


def resolve(schema, document):
    """`schema` with every `$ref` into `document` replaced by its target, at any depth."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            target = document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target, document)
        return {key: resolve(value, document) for key, value in schema.items()}
    if isinstance(schema, list):
        return [resolve(item, document) for item in schema]
    return schema


def response_schema(document, path, method, code):
    operation = document["paths"][path][method]
    assert code in operation["responses"], (
        f"/openapi.json {method.upper()} {path} documents responses "
        f"{sorted(operation['responses'])}, expected {code}"
    )
    content = operation["responses"][code].get("content", {}).get("application/json", {})
    return resolve(content.get("schema", {}), document)


@pytest.mark.task(5)
def test_create_user_is_201_and_returns_no_secret(client):
    r = client.post("/users", json=USER)
    assert r.status_code == 201, f"POST /users → {r.status_code} {r.text[:200]}, expected 201"
    body = r.json()
    assert isinstance(body.get("id"), int), f"POST /users → {body}, expected an integer `id`"
    public = (body.get("username"), body.get("full_name"))
    assert public == ("ada_l", "Ada Lovelace"), (
        f"POST /users → {body}, expected username 'ada_l' and full_name 'Ada Lovelace'"
    )
    assert not secret_keys(body), (
        f"POST /users → keys {secret_keys(body)} in the response, expected no password or hash"
    )
    assert PASSWORD not in r.text, "POST /users → the response contains the plain password"


@pytest.mark.task(5)
def test_created_user_reads_back_without_secret(client):
    created = client.post("/users", json=USER)
    assert created.status_code == 201, f"POST /users → {created.status_code}, expected 201"
    user_id = created.json().get("id")
    assert isinstance(user_id, int), f"POST /users → {created.json()}, expected an integer `id`"
    r = client.get(f"/users/{user_id}")
    assert r.status_code == 200, f"GET /users/{user_id} → {r.status_code}, expected 200"
    assert r.json() == created.json(), (
        f"GET /users/{user_id} → {r.json()}, expected what POST returned: {created.json()}"
    )
    assert not secret_keys(r.json()), (
        f"GET /users/{user_id} → keys {secret_keys(r.json())}, expected no password or hash"
    )


@pytest.mark.task(5)
def test_unknown_user_is_404(client):
    r = client.get("/users/999999")
    assert r.status_code == 404, f"GET /users/999999 → {r.status_code}, expected 404"


@pytest.mark.task(5)
@pytest.mark.parametrize(
    ("path", "method", "code"), [("/users", "post", "201"), ("/users/{user_id}", "get", "200")]
)
def test_openapi_user_response_schema_has_no_secret(client, path, method, code):
    document = client.get("/openapi.json").json()
    schema = response_schema(document, path, method, code)
    properties = schema.get("properties", {})
    assert {"id", "username", "full_name"} <= set(properties), (
        f"/openapi.json {method.upper()} {path} {code} schema has {sorted(properties)}, "
        "expected id, username and full_name (declare the response model)"
    )
    assert not secret_keys(schema) and "password" not in json.dumps(schema).lower(), (
        f"/openapi.json {method.upper()} {path} {code} schema has {sorted(properties)}, "
        "expected no password or hash field"
    )


# --- Task 6 · unknown fields are rejected ----------------------------------------------------


@pytest.mark.task(6)
@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"is_admin": True}, id="is_admin"),
        pytest.param({"password_hash": "x"}, id="password_hash"),
        pytest.param({"id": 1}, id="id"),
    ],
)
def test_unknown_field_on_user_is_422_at_that_field(client, extra):
    (name,) = extra
    r = client.post("/users", json={**USER, **extra})
    assert r.status_code == 422, (
        f"POST /users with extra field {name!r} → {r.status_code}, expected 422: "
        "UserCreate forbids fields it does not declare"
    )
    assert error_locs(r) == [("body", name)], (
        f"POST /users with extra field {name!r} → errors at {error_locs(r)}, "
        f"expected exactly one at ('body', {name!r})"
    )


@pytest.mark.task(6)
def test_openapi_user_request_schema_forbids_additional_properties(client):
    document = client.get("/openapi.json").json()
    request = document["paths"]["/users"]["post"].get("requestBody", {})
    schema = request.get("content", {}).get("application/json", {}).get("schema", {})
    schema = resolve(schema, document)
    assert schema.get("additionalProperties") is False, (
        f"/openapi.json POST /users request schema has additionalProperties="
        f"{schema.get('additionalProperties', '(unset)')!r}, expected false"
    )
