from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("coaching.api.urls")),
    path("", include("coaching.urls")),
]

# Paths under /api/ that match no route (even the catch-all) get the API's JSON 404.
handler404 = "coaching.api.errors.json_not_found"
