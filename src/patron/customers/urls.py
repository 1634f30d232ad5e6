"""Page routes of the customers app."""

from django.urls import path

from patron.customers import views

app_name = "customers"
urlpatterns = [
    path("accounts/", views.account_list, name="account_list"),
]
