"""Page routes of imports: the upload page, its column reference, and one run's details."""

from django.urls import path

from patron.dataio import views

app_name = "dataio"
urlpatterns = [
    path("import/", views.import_page, name="import"),
    path("import/fields/", views.import_fields, name="import_fields"),
    path("import/runs/<int:pk>/", views.run_detail, name="run_detail"),
]
