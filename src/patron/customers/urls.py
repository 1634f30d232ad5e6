"""Page routes of the customers app: accounts, their timeline, and contacts."""

from django.urls import path

from patron.customers import views

app_name = "customers"
urlpatterns = [
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/export.csv", views.account_export, name="account_export"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/history/", views.account_history, name="account_history"),
    path("accounts/<int:pk>/timeline/", views.account_timeline, name="account_timeline"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/history/", views.contact_history, name="contact_history"),
    path("contacts/<int:pk>/data.json", views.contact_data, name="contact_data"),
    path("contacts/<int:pk>/erase/", views.contact_erase, name="contact_erase"),
]
