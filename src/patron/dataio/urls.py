"""Page routes of this app."""

app_name = "dataio"
urlpatterns: list = []
