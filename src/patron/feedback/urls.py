"""Page routes of this app."""

app_name = "feedback"
urlpatterns: list = []
