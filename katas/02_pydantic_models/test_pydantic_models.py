"""Kata 02 · Pydantic models. Each test names the task it checks; the README says what to build."""

import copy
import json
import types

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


def assert_422_at(response, loc, request, why):
    """A 422 with exactly one error, at `loc`."""
    assert response.status_code == 422, f"{request} → {response.status_code}, expected 422: {why}"
    assert error_locs(response) == [loc], (
        f"{request} → errors at {error_locs(response)}, expected exactly one at {loc}"
    )


DELETE = object()


def change_text(path, value):
    """`customer.name set to ''` or `lines without it`, for failure messages."""
    where = ".".join(map(str, path))
    if value is DELETE:
        return f"{where} without it"
    if isinstance(value, list) and len(value) > 3:
        return f"{where} set to a list of {len(value)} items"
    if isinstance(value, str) and len(value) > 12:
        return f"{where} set to a string of {len(value)} characters"
    return f"{where} set to {value!r}"


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


PRODUCT_VIOLATIONS = [  # (field, value, rule)
    ("name", "", "name is 1 to 40 characters"),
    ("name", "x" * 41, "name is 1 to 40 characters"),
    ("sku", "lmp-0042", "sku is AAA-0000: capitals, dash, digits"),
    ("sku", "LMP-042", "sku is AAA-0000: capitals, dash, digits"),
    ("sku", "XLMP-00420", "the WHOLE sku must match AAA-0000"),
    ("sku", "LMP-00421", "nothing may follow the 4 digits"),
    ("sku", "xLMP-0042", "nothing may come before the capitals"),
    ("sku", "LMP0042", "sku is AAA-0000, with the dash"),
    ("sku", "LMP-٠٠٤٢", "the digits are 0-9 (\\d also matches other scripts' digits)"),
    ("price", 0, "price must be greater than 0"),
    ("price", -3.5, "price must be greater than 0"),
    ("price", 10_000.01, "price is at most 10000"),
    ("stock", -1, "stock is 0 or more"),
]


@pytest.mark.task(1)
def test_each_constraint_violation_is_422_at_that_field(client):
    for field, value, rule in PRODUCT_VIOLATIONS:
        r = client.post("/products", json={**PRODUCT, field: value})
        assert r.status_code == 422, (
            f"POST /products with {field}={value!r} → {r.status_code}, expected 422: {rule}"
        )
        assert error_locs(r) == [("body", field)], (
            f"POST /products with {field}={value!r} → errors at {error_locs(r)}, "
            f"expected exactly one at ('body', {field!r})"
        )


PRODUCT_LIMITS = [  # (field, value)
    ("name", "x" * 40),
    ("name", "x"),
    ("price", 10_000),
    ("price", 0.01),
    ("stock", 0),
    ("sku", "AZZ-9090"),
]


@pytest.mark.task(1)
def test_values_on_the_boundary_are_accepted(client):
    for field, value in PRODUCT_LIMITS:
        r = client.post("/products", json={**PRODUCT, field: value})
        assert r.status_code == 201, (
            f"POST /products with {field}={value!r} → {r.status_code} {r.text[:200]}, "
            "expected 201: the limit itself is allowed"
        )


REQUIRED_PRODUCT_FIELDS = ["name", "sku", "price"]


@pytest.mark.task(1)
def test_missing_required_field_is_422_at_that_field(client):
    for field in REQUIRED_PRODUCT_FIELDS:
        product = {key: value for key, value in PRODUCT.items() if key != field}
        r = client.post("/products", json=product)
        assert r.status_code == 422, (
            f"POST /products without {field} → {r.status_code}, expected 422"
        )
        assert error_locs(r) == [("body", field)], (
            f"POST /products without {field} → errors at {error_locs(r)}, expected ('body', {field!r})"
        )


# --- Task 2 · parsing and coercion ----------------------------------------------------------


CLEAN_CONVERSIONS = [  # (field, sent, parsed, kind)
    ("price", "19.90", 19.9, float),
    ("price", 5, 5.0, float),
    ("stock", "7", 7, int),
    ("stock", 3.0, 3, int),
]


@pytest.mark.task(2)
def test_values_that_convert_cleanly_are_parsed(client):
    for field, sent, parsed, kind in CLEAN_CONVERSIONS:
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


WRONG_TYPES = [  # (field, value, why)
    ("stock", "seven", "not a number"),
    ("stock", 2.5, "an int cannot have a fractional part"),
    ("price", "cheap", "not a number"),
    ("price", [24.5], "a list is not a number"),
    ("name", 42, "Pydantic v2 does not turn numbers into strings"),
    ("sku", None, "sku is required and not nullable"),
]


@pytest.mark.task(2)
def test_values_of_the_wrong_type_are_422_at_that_field(client):
    for field, value, why in WRONG_TYPES:
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


ORDER_VIOLATIONS = [  # (path, value)
    # the customer
    (("customer",), "Ada Lovelace"),
    (("customer", "name"), DELETE),
    (("customer", "name"), ""),
    (("customer", "name"), "x" * 61),
    (("customer", "address"), DELETE),
    (("customer", "address", "street"), ""),
    (("customer", "address", "city"), ""),
    (("customer", "address", "city"), DELETE),
    (("customer", "address", "country"), "Britain"),
    (("customer", "address", "country"), "gb"),
    (("customer", "address", "country"), "G1"),
    (("customer", "address", "country"), "G"),
    # the list of lines
    (("lines",), []),
    (("lines",), [ORDER["lines"][0]] * 51),
    (("lines",), ORDER["lines"][0]),
    # one line
    (("lines", 0, "sku"), "lamp"),
    (("lines", 1, "sku"), "BLB-00071"),
    (("lines", 1, "quantity"), 0),
    (("lines", 0, "quantity"), 2.5),
    (("lines", 0, "unit_price"), 0),
    (("lines", 1, "unit_price"), -4.25),
    (("lines", 1, "unit_price"), DELETE),
]


@pytest.mark.task(3)
def test_a_nested_violation_is_422_at_the_full_path(client):
    for path, value in ORDER_VIOLATIONS:
        r = client.post("/orders", json=with_change(ORDER, path, value))
        assert_422_at(
            r, ("body", *path), f"POST /orders with {change_text(path, value)}", "a broken rule"
        )


ORDER_LIMITS = [  # (path, value)
    (("lines",), [ORDER["lines"][0]] * 50),
    (("lines",), [ORDER["lines"][1]]),
    (("lines", 0, "unit_price"), 0.01),
    (("lines", 0, "quantity"), 1),
    (("customer", "name"), "x" * 60),
    (("customer", "name"), "X"),
    (("customer", "address", "street"), "X"),
    (("customer", "address", "city"), " "),
    (("customer", "address", "country"), "ZA"),
]


@pytest.mark.task(3)
def test_nested_values_on_the_limit_are_accepted(client):
    for path, value in ORDER_LIMITS:
        r = client.post("/orders", json=with_change(ORDER, path, value))
        assert r.status_code == 201, (
            f"POST /orders with {change_text(path, value)} → {r.status_code} {r.text[:200]}, "
            "expected 201: the limit itself is allowed"
        )


TOTALS = [  # (lines, total)
    ([(3, 0.1)], 0.3),
    ([(1, 0.1), (1, 0.2)], 0.3),
    ([(3, 4.999)], 15.0),
    ([(3, 1.001)], 3.0),
    ([(7, 0.07), (1, 19.99)], 20.48),
]


@pytest.mark.task(3)
def test_total_is_rounded_to_2_decimals(client):
    for lines, total in TOTALS:
        order = {
            "customer": ORDER["customer"],
            "lines": [{"sku": "LMP-0042", "quantity": q, "unit_price": p} for q, p in lines],
        }
        r = client.post("/orders", json=order)
        assert r.status_code == 201, f"POST /orders → {r.status_code} {r.text[:200]}, expected 201"
        got = r.json().get("total")
        sums = " + ".join(f"{q} × {p}" for q, p in lines)
        assert type(got) in (int, float) and got == total, (
            f"POST /orders with lines {sums} → total {got!r}, expected {total}: "
            "the sum rounded to 2 decimals (round it, do not truncate), as a JSON number"
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
    sent = {key: body.get(key) for key in BOOKING}
    assert sent == BOOKING, (
        f"POST /bookings → {body}, expected the booking's fields back (dates as ISO strings): {BOOKING}"
    )


STAYS = [  # (check_in, check_out, nights)
    ("2025-07-01", "2025-07-02", 1),
    ("2025-06-29", "2025-07-02", 3),
    ("2024-12-30", "2025-01-02", 3),
    ("2024-02-28", "2024-03-01", 2),
]


@pytest.mark.task(4)
def test_nights_are_counted_across_months_and_years(client):
    for check_in, check_out, nights in STAYS:
        r = client.post("/bookings", json={**BOOKING, "check_in": check_in, "check_out": check_out})
        got = r.json().get("nights") if r.status_code == 201 else None
        assert got == nights, (
            f"POST /bookings {check_in} → {check_out} → {r.status_code} nights {got}, "
            f"expected 201 with nights {nights}"
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
    messages = error_messages(r)
    assert len(messages) == 1 and RULE in messages[0], (
        f"POST /bookings check_out {check_out} → {r.text[:300]}, "
        f"expected exactly one validation error, whose msg contains {RULE!r}"
    )


BOOKING_VIOLATIONS = [  # (field, value)
    ("room", ""),
    ("room", "x" * 21),
    ("room", DELETE),
    ("guests", 0),
    ("guests", 5),
    ("guests", 2.5),
    ("guests", "two"),
    ("guests", DELETE),
]


@pytest.mark.task(4)
def test_each_booking_field_rule_is_422_at_that_field(client):
    for field, value in BOOKING_VIOLATIONS:
        r = client.post("/bookings", json=with_change(BOOKING, (field,), value))
        assert_422_at(
            r,
            ("body", field),
            f"POST /bookings with {change_text((field,), value)}",
            "room is 1 to 20 characters, guests an integer from 1 to 4",
        )


BOOKING_LIMITS = [  # (field, value)
    ("room", "x" * 20),
    ("room", "x"),
    ("guests", 1),
    ("guests", 4),
]


@pytest.mark.task(4)
def test_booking_values_on_the_limit_are_accepted(client):
    for field, value in BOOKING_LIMITS:
        r = client.post("/bookings", json={**BOOKING, field: value})
        assert r.status_code == 201, (
            f"POST /bookings with {change_text((field,), value)} → {r.status_code} {r.text[:200]}, "
            "expected 201: the limit itself is allowed"
        )


BAD_DATES = [  # (field, value)
    ("check_in", "2025-02-30"),
    ("check_in", DELETE),
    ("check_out", "next week"),
    ("check_out", DELETE),
]


@pytest.mark.task(4)
def test_a_bad_or_missing_date_is_422_at_that_field(client):
    for field, value in BAD_DATES:
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
def test_unknown_user_is_404_with_a_detail(client):
    created = client.post("/users", json=USER)
    assert created.status_code == 201, f"POST /users → {created.status_code}, expected 201"
    for user_id in (created.json().get("id", 0) + 1, 999999):
        r = client.get(f"/users/{user_id}")
        assert r.status_code == 404, f"GET /users/{user_id} → {r.status_code}, expected 404"
        assert r.json() == {"detail": "User not found"}, (
            f"GET /users/{user_id} → {r.json()}, expected {{'detail': 'User not found'}}"
        )
    r = client.get("/users/ada_l")
    assert_422_at(r, ("path", "user_id"), "GET /users/ada_l", "user_id is an integer")


@pytest.mark.task(5)
@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        pytest.param({"full_name": "Ada Lovelace"}, "Ada Lovelace", id="given"),
        pytest.param({}, None, id="left-out"),
        pytest.param({"full_name": None}, None, id="null"),
    ],
)
def test_full_name_is_optional_and_null_when_not_given(client, sent, shown):
    user = {"username": "ada_l", "password": PASSWORD, **sent}
    r = client.post("/users", json=user)
    assert r.status_code == 201, (
        f"POST /users {user} → {r.status_code} {r.text[:200]}, expected 201"
    )
    body = r.json()
    assert "full_name" in body and body["full_name"] == shown, (
        f'POST /users {user} → {body}, expected "full_name": {json.dumps(shown)} in the response'
    )


USER_VIOLATIONS = [  # (field, value)
    ("username", "ab"),
    ("username", "a" * 21),
    ("username", "Ada_L"),
    ("username", "ada-l"),
    ("username", "ada l"),
    ("username", "adé_l"),
    ("username", DELETE),
    ("password", "x" * 7),
    ("password", "x" * 129),
    ("password", DELETE),
    ("full_name", "x" * 81),
]


@pytest.mark.task(5)
def test_each_user_field_rule_is_422_at_that_field(client):
    for field, value in USER_VIOLATIONS:
        r = client.post("/users", json=with_change(USER, (field,), value))
        assert_422_at(
            r,
            ("body", field),
            f"POST /users with {change_text((field,), value)}",
            "username 3–20 of a-z 0-9 _, password 8–128 characters, full_name at most 80",
        )


USER_LIMITS = [  # (field, value)
    ("username", "abc"),
    ("username", "a_" * 10),
    ("username", "0_9"),
    ("password", "x" * 8),
    ("password", "x" * 128),
    ("full_name", "x" * 80),
]


@pytest.mark.task(5)
def test_user_values_on_the_limit_are_accepted(client):
    for field, value in USER_LIMITS:
        r = client.post("/users", json={**USER, field: value})
        assert r.status_code == 201, (
            f"POST /users with {change_text((field,), value)} → {r.status_code} {r.text[:200]}, "
            "expected 201: the limit itself is allowed"
        )


def strings_in(value, seen, depth=0):
    """Every string reachable from `value` through containers and objects' attributes."""
    if depth > 8 or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
    elif isinstance(value, (bytes, bytearray)):
        yield bytes(value).decode("utf-8", "replace")
    elif isinstance(value, (types.ModuleType, type, types.FunctionType, types.MethodType)):
        return
    elif isinstance(value, dict):
        for item in [*value.keys(), *value.values()]:
            yield from strings_in(item, seen, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from strings_in(item, seen, depth + 1)
    elif hasattr(value, "__dict__"):
        for item in vars(value).values():
            yield from strings_in(item, seen, depth + 1)


@pytest.mark.task(5)
@pytest.mark.white_box  # looks at the data your module keeps, which no HTTP answer shows
def test_the_password_is_stored_only_as_a_hash(client):
    r = client.post("/users", json=USER)
    assert r.status_code == 201, f"POST /users → {r.status_code} {r.text[:200]}, expected 201"
    roots = [value for name, value in vars(kata).items() if not name.startswith("__")]
    roots = [value for value in roots if value is not kata.app] + [kata.app.state]
    seen = set()
    stored = [text for root in roots for text in strings_in(root, seen)]
    assert "ada_l" in stored, (
        "POST /users → 201, but the user 'ada_l' is nowhere in your module's data: "
        "keep the stored users in a module-level dict, such as `users`"
    )
    assert not any(PASSWORD in text for text in stored), (
        "POST /users → the plain password is kept in your module's data: store only a hash of it"
    )


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


EXTRA = {"gift_wrap": True}


EXTRA_KEYS_IGNORED = [  # (path, body, where)
    ("/products", PRODUCT, ()),
    ("/orders", ORDER, ()),
    ("/orders", ORDER, ("customer",)),
    ("/orders", ORDER, ("customer", "address")),
    ("/orders", ORDER, ("lines", 0)),
    ("/bookings", BOOKING, ()),
]


@pytest.mark.task(6)
def test_other_models_ignore_unknown_fields(client):
    for path, body, where in EXTRA_KEYS_IGNORED:
        sent = copy.deepcopy(body)
        target = sent
        for key in where:
            target = target[key]
        target.update(EXTRA)
        r = client.post(path, json=sent)
        place = ".".join(map(str, where)) or "the body"
        assert r.status_code == 201, (
            f"POST {path} with an unknown field gift_wrap in {place} → {r.status_code} {r.text[:200]}, "
            "expected 201: only UserCreate forbids unknown fields, the other models ignore them"
        )
        assert "gift_wrap" not in r.text, (
            f"POST {path} with gift_wrap in {place} → {r.text[:200]}, expected the unknown field dropped"
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
