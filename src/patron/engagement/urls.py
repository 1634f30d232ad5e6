"""Page routes of this app."""

app_name = "engagement"
urlpatterns: list = []
