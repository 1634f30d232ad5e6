"""Users, teams, roles and API tokens: who may see and change which records."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a user may see: admins everything, managers their teams, members their own and their team's."""

    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    MEMBER = "member", _("Member")


class JobFunction(models.TextChoices):
    """The work a user does, used for logging who touched a customer and in which capacity."""

    SUCCESS = "success", _("Customer success")
    SALES = "sales", _("Sales")
    ACCOUNT_MANAGEMENT = "account_management", _("Account management")
    SERVICE = "service", _("Service")
    MARKETING = "marketing", _("Marketing")
    ANALYST = "analyst", _("Analyst")


class Team(models.Model):
    """A group of users who share accounts, such as 'Enterprise CSM' or 'Retail DACH'."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in to Patron."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    job_function = models.CharField(
        _("job function"), max_length=32, choices=JobFunction.choices, default=JobFunction.SUCCESS
    )
    teams = models.ManyToManyField(Team, related_name="members", blank=True, verbose_name=_("teams"))
    language = models.CharField(_("language"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_admin(self) -> bool:
        """Tell whether the user sees and may change everything."""
        return self.is_superuser or self.role == Role.ADMIN

    def __str__(self) -> str:
        return self.get_full_name() or self.username


def hash_token(raw: str) -> str:
    """Return the stored digest of a raw API token (tokens are never stored in the clear)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal token for API clients; shown once at creation, kept only as a hash."""

    PREFIX = "ptn_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> str:
        """Return a fresh raw token."""
        return cls.PREFIX + secrets.token_urlsafe(32)
