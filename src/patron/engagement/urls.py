"""Page routes of the engagement app: logging interactions and support tickets."""

from django.urls import path

from patron.engagement import views

app_name = "engagement"
urlpatterns = [
    path("accounts/<int:account_id>/interactions/new/", views.log_interaction, name="log_interaction"),
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:pk>/history/", views.ticket_history, name="ticket_history"),
]
