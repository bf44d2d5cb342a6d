"""The OpenAPI schema and the interactive docs."""

from django.test import Client


def test_the_schema_describes_every_endpoint(db):
    schema = Client().get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/members",
        "/api/v1/members/add-membership",
        "/api/v1/members/remove-membership",
        "/api/v1/members/{member_id}",
        "/api/v1/memberships",
    }
    assert set(paths["/api/v1/members"]) == {"get", "post", "put"}
    assert set(paths["/api/v1/members/add-membership"]) == {"post", "put"}
    create = paths["/api/v1/members"]["post"]
    assert set(create["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert {"201", "400", "401", "413", "415", "422", "429"} <= set(create["responses"])
    assert "404" in paths["/api/v1/members/add-membership"]["post"]["responses"]
    names = {p["name"] for p in create["parameters"]}
    assert {"email", "memberships", "notify", "Idempotency-Key"} <= names
    assert "securitySchemes" in schema["components"]


def test_the_docs_page_is_served(db):
    answer = Client().get("/api/v1/docs")
    assert answer.status_code == 200
    assert b"openapi.json" in answer.content


def test_the_alias_serves_no_second_schema(db):
    answer = Client().get("/wp-json/opm-api/v1/openapi.json")
    assert answer.status_code in (401, 404)
    assert "paths" not in answer.json()
