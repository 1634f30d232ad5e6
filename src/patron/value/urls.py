"""Page routes of this app."""

app_name = "value"
urlpatterns: list = []
