"""Page routes of customer value."""

from django.urls import path

from patron.value import views

app_name = "value"
urlpatterns = [
    path("value/", views.dashboard, name="dashboard"),
    path("value/recompute/", views.recompute, name="recompute"),
    path("value/diagnostics/", views.diagnostics, name="diagnostics"),
    path("value/scores/", views.scores, name="scores"),
    path("value/settings/", views.value_settings, name="settings"),
]
