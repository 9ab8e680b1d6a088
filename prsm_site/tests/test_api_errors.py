"""Every API error has the shape {"error": {"code", "message", "field"?}}, 500s included."""

import re

import pytest
from django.test import Client, override_settings
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from prsm_site.urls import urlpatterns as site_patterns


class Boom(APIView):
    permission_classes = []

    def get(self, request):
        raise RuntimeError("kaboom")


def plain_boom(request):
    raise RuntimeError("kaboom")


class Nested(APIView):
    permission_classes = []

    def post(self, request):
        from rest_framework import serializers

        class Inner(serializers.Serializer):
            size = serializers.IntegerField(min_value=1)

        class Outer(serializers.Serializer):
            teachers = Inner(many=True)

        serializer = Outer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({})


urlpatterns = [
    path("api/v1/test-boom/", Boom.as_view()),
    path("api/v1/test-plain-boom/", plain_boom),
    path("api/v1/test-nested/", Nested.as_view()),
    *site_patterns,
]
handler404 = "prsm_site.errors.handler404"
handler500 = "prsm_site.errors.handler500"


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_route_is_a_json_404(client, settings, debug):
    settings.DEBUG = debug

    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(client):
    response = client.delete("/api/v1/auth/token/")

    assert response.status_code == 405
    assert response.json() == {"error": {"code": "method_not_allowed", "message": 'Method "DELETE" not allowed.'}}


@override_settings(ROOT_URLCONF=__name__)
def test_an_exception_in_an_api_view_is_a_json_500_without_details(client):
    response = client.get("/api/v1/test-boom/")

    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "Internal server error."}}


@override_settings(ROOT_URLCONF=__name__)
def test_an_exception_in_a_plain_view_under_api_is_a_json_500(client):
    response = client.get("/api/v1/test-plain-boom/")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


@override_settings(ROOT_URLCONF=__name__)
def test_a_nested_validation_error_names_the_path_to_the_field(client):
    response = client.post("/api/v1/test-nested/", {"teachers": [{"size": 3}, {"size": 0}]}, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "teachers[1].size"


def test_pages_outside_the_api_keep_html_404s(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_openapi_schema_and_offline_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert "/api/v1/auth/register/" in schema.json()["paths"]
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/" in docs.content
    # Every script, stylesheet and icon comes from this site. (Searching the page for "cdn" was
    # flaky: the page carries a random CSRF token, which can hold those three letters.)
    page = docs.content.decode()
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    assert sources
    assert [url for url in sources if not url.startswith("/static/")] == []
    assert "//cdn" not in page.lower()
