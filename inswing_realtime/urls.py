from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("coaching.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("coaching.urls")),
]

# Paths under /api/ that match no route (even the catch-all) get the API's JSON 404.
handler404 = "coaching.api.errors.json_not_found"
