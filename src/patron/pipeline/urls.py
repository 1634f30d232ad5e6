"""Page routes of this app."""

app_name = "pipeline"
urlpatterns: list = []
