"""The OpenAPI document describes every JSON API route the app serves."""

import re


def test_every_api_route_is_documented_with_its_methods(app, client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule != "/api/openapi.json":
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_the_document_points_at_the_public_url_and_names_no_secret(client, config):
    document = client.get("/api/openapi.json")
    assert document.get_json()["servers"] == [{"url": config.public_url}]
    assert config.secret_key not in document.get_data(as_text=True)
