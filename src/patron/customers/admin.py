"""Admin of accounts, contacts, products, orders (with their lines) and subscriptions."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from patron.core.admin import RecordAdmin
from patron.customers.models import Account, Contact, Order, OrderLine, Product, Subscription


@admin.register(Account)
class AccountAdmin(RecordAdmin):
    list_display = ("name", "kind", "industry", "country", "lifecycle_stage", "owner", "team", "updated_at")
    list_filter = ("kind", "lifecycle_stage", "size_band", "team")
    list_select_related = ("owner", "team")
    search_fields = ("name", "external_id")
    raw_id_fields = ("owner",)


class ContactForm(forms.ModelForm):
    """Contacts keep their email lower-cased here too, so the unique check is case-insensitive."""

    class Meta:
        model = Contact
        fields = (
            "external_id",
            "account",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "role",
            "language",
            "email_opt_out",
            "do_not_contact",
        )

    def clean_email(self) -> str | None:
        """Return the email trimmed and lower-cased (an empty one is none)."""
        email = self.cleaned_data.get("email")
        return (email or "").strip().lower() or None


@admin.register(Contact)
class ContactAdmin(RecordAdmin):
    form = ContactForm
    list_display = ("__str__", "email", "account", "role", "do_not_contact", "email_opt_out", "erased_at")
    list_filter = ("role", "do_not_contact", "email_opt_out", ("erased_at", admin.EmptyFieldListFilter))
    list_select_related = ("account",)
    search_fields = ("first_name", "last_name", "email", "external_id")
    raw_id_fields = ("account",)
    readonly_fields = ("erased_at",)


@admin.register(Product)
class ProductAdmin(RecordAdmin):
    list_display = ("sku", "name", "product_group", "updated_at")
    list_filter = ("product_group",)
    search_fields = ("sku", "name", "external_id")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Order)
class OrderAdmin(RecordAdmin):
    list_display = ("__str__", "external_id", "account", "ordered_at", "amount", "currency", "channel")
    list_filter = ("channel", "currency")
    list_select_related = ("account",)
    search_fields = ("external_id",)
    raw_id_fields = ("account",)
    inlines = [OrderLineInline]


@admin.register(OrderLine)
class OrderLineAdmin(RecordAdmin):
    list_display = ("order", "product", "quantity", "unit_price", "amount")
    list_select_related = ("order", "product")
    raw_id_fields = ("order", "product")


@admin.register(Subscription)
class SubscriptionAdmin(RecordAdmin):
    list_display = ("__str__", "account", "product", "monthly_amount", "currency", "status", "renews_on")
    list_filter = ("status", "currency")
    list_select_related = ("account", "product")
    search_fields = ("external_id",)
    raw_id_fields = ("account", "product")
