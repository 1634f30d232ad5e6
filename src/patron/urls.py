"""URL map: pages per app, the API at /api/v1, the admin, and language switching."""

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import URLPattern, URLResolver, include, path, re_path

from patron.core.api import api, api_urls
from patron.customers.api import router as customers_router
from patron.dataio.api import router as dataio_router
from patron.engagement.api import router as engagement_router
from patron.feedback.api import router as feedback_router
from patron.pipeline.api import router as pipeline_router
from patron.value.api import router as value_router

for router in (customers_router, engagement_router, pipeline_router, feedback_router, dataio_router, value_router):
    api.add_router("/", router)

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", api_urls()),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("patron.core.urls")),
    path("", include("patron.customers.urls")),
    path("", include("patron.engagement.urls")),
    path("", include("patron.pipeline.urls")),
    path("", include("patron.feedback.urls")),
    path("", include("patron.dataio.urls")),
    path("", include("patron.value.urls")),
]

if settings.PATRON_SERVE_STATIC:
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}))
