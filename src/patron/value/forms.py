"""The value settings form: shares are typed as percentages ("20, 30, 30, 20") and stored as fractions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from patron.value.models import ValueSettings


class PercentListField(forms.CharField):
    """A comma-separated list of percentages, cleaned to a list of fractions that add up to 1."""

    def prepare_value(self, value: Any) -> Any:
        """Show stored fractions as percentages."""
        if isinstance(value, list | tuple):
            return ", ".join(f"{share * 100:g}" for share in value)
        return value

    def to_python(self, value: Any) -> Any:
        """Parse '20, 30, 50' (or '20%; 30%; 50%') into [0.2, 0.3, 0.5]."""
        text = super().to_python(value) or ""
        parts = [p.strip().rstrip("%").strip() for p in text.replace(";", ",").split(",") if p.strip()]
        try:
            shares = [float(p.replace(" ", "")) / 100 for p in parts]
        except ValueError:
            raise forms.ValidationError(_("Type percentages separated by commas, such as 20, 30, 50.")) from None
        if not 2 <= len(shares) <= 6:
            raise forms.ValidationError(_("Give 2 to 6 tiers."))
        if any(share <= 0 for share in shares):
            raise forms.ValidationError(_("Every tier needs a share above 0."))
        if abs(sum(shares) - 1) > 1e-6:
            raise forms.ValidationError(
                _("The shares add up to %(total)s%%; they must add up to 100%%.") % {"total": f"{sum(shares) * 100:g}"}
            )
        return [round(share, 10) for share in shares]


class ValueSettingsForm(forms.ModelForm):
    """Everything admins may change about how customers are scored."""

    abc_shares = PercentListField(
        label=ValueSettings._meta.get_field("abc_shares").verbose_name,
        help_text=ValueSettings._meta.get_field("abc_shares").help_text,
    )
    abc_cumulative = PercentListField(
        label=ValueSettings._meta.get_field("abc_cumulative").verbose_name,
        help_text=ValueSettings._meta.get_field("abc_cumulative").help_text,
    )

    SECTIONS = (
        (_("ABC tiers"), ("abc_value", "abc_method", "abc_shares", "abc_cumulative")),
        (_("RFM and ARPU"), ("rfm_bins", "arpu_low_below", "arpu_high_from")),
        (_("Lifetime value"), ("margin_percent", "annual_discount_rate", "horizon_months", "time_unit")),
        (_("Schedule and history"), ("schedule", "schedule_hour", "runs_kept")),
        (_("Lifecycle classes"), ValueSettings.RULE_FIELDS),
        (
            _("Strategies"),
            (
                "strategy_sleeping",
                "strategy_fast_growing",
                "strategy_loyal",
                "strategy_worth_nurturing",
                "strategy_steady",
            ),
        ),
    )

    class Meta:
        model = ValueSettings
        fields = [
            "abc_value",
            "abc_method",
            "abc_shares",
            "abc_cumulative",
            "rfm_bins",
            "arpu_low_below",
            "arpu_high_from",
            "margin_percent",
            "annual_discount_rate",
            "horizon_months",
            "time_unit",
            "schedule",
            "schedule_hour",
            "runs_kept",
            *ValueSettings.RULE_FIELDS,
            "strategy_sleeping",
            "strategy_fast_growing",
            "strategy_loyal",
            "strategy_worth_nurturing",
            "strategy_steady",
        ]

    def sections(self) -> list[tuple[Any, list[forms.BoundField]]]:
        """Return the form's fields grouped under headings, in page order."""
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]
