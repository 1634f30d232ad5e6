"""Patron's translations: every catalogue complete and consistent, compiled, and used by the pages."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from patron.customers.models import LifecycleStage

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])

# Each locale folder and the number of plural forms its language has.
PLURAL_FORMS = {"pl": 4, "bg": 2, "ru": 4, "zh_Hans": 1}
LOCALES = list(PLURAL_FORMS)

# What the sign-in button and the accounts page say in each language.
SIGN_IN = {"en": "Sign in", "pl": "Zaloguj się", "bg": "Вход", "ru": "Войти", "zh-hans": "登录"}
ACCOUNTS = {"pl": "Klienci", "bg": "Клиенти", "ru": "Клиенты", "zh-hans": "客户"}

# A named placeholder such as %(name)s, or a literal percent sign written %%.
NAMED = re.compile(r"%\((\w+)\)[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


class Entry:
    """One message of a .po file."""

    def __init__(self) -> None:
        self.flags: list[str] = []
        self.msgctxt: str | None = None
        self.msgid = ""
        self.msgid_plural: str | None = None
        self.msgstr = ""
        self.msgstr_plural: dict[int, str] = {}
        self.obsolete = False

    @property
    def forms(self) -> list[str]:
        """Return every translation of the message: one, or one per plural form."""
        if self.msgid_plural is None:
            return [self.msgstr]
        return [self.msgstr_plural[i] for i in sorted(self.msgstr_plural)]


def parse_po(path: Path) -> list[Entry]:
    """Read a .po file into its entries, the header (msgid "") first."""
    entries: list[Entry] = []
    entry = Entry()
    field: tuple[str, int | None] | None = None

    def finish() -> None:
        nonlocal entry, field
        if field is not None:
            entries.append(entry)
        entry, field = Entry(), None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
        elif line.startswith("#~"):
            entry.obsolete = True
        elif line.startswith("#,"):
            if field is not None:
                finish()
            entry.flags += [flag.strip() for flag in line[2:].split(",") if flag.strip()]
        elif line.startswith("#"):
            if field is not None:
                finish()
        else:
            keyword, _, rest = line.partition(" ")
            if line.startswith('"'):
                keyword, rest = "", line
            text = ast.literal_eval(rest)
            if keyword == "msgctxt":
                if field is not None:
                    finish()
                entry.msgctxt, field = text, ("msgctxt", None)
            elif keyword == "msgid":
                if field is not None and field[0] != "msgctxt":
                    finish()
                entry.msgid, field = text, ("msgid", None)
            elif keyword == "msgid_plural":
                entry.msgid_plural, field = text, ("msgid_plural", None)
            elif keyword == "msgstr":
                entry.msgstr, field = text, ("msgstr", None)
            elif keyword.startswith("msgstr["):
                index = int(keyword[7:-1])
                entry.msgstr_plural[index], field = text, ("msgstr_plural", index)
            elif keyword == "" and field is not None:
                name, index = field
                if name == "msgstr_plural":
                    entry.msgstr_plural[index] += text
                else:
                    setattr(entry, name, getattr(entry, name) + text)
            else:
                raise ValueError(f"{path}: cannot read {raw!r}")
    finish()
    return entries


def catalogue(locale: str) -> tuple[Entry, list[Entry]]:
    """Return the header and the live messages of a language's django.po."""
    entries = parse_po(LOCALE_DIR / locale / "LC_MESSAGES" / "django.po")
    header, messages = entries[0], [e for e in entries[1:] if not e.obsolete]
    assert header.msgid == "", "the header must come first"
    return header, messages


def plural_function(header: Entry):
    """Return the header's plural rule as a Python function of n, and the number of forms."""
    forms = re.search(r"Plural-Forms:\s*nplurals=(\d+);\s*plural=([^;\n]+);?", header.msgstr)
    assert forms, "the header has no Plural-Forms"
    return gettext.c2py(forms.group(2)), int(forms.group(1))


def placeholders(text: str) -> set[str]:
    """Return the names of the %(name)s placeholders in a message."""
    return set(NAMED.findall(text))


def literal_percents(text: str) -> int:
    """Return how many escaped percent signs (%%) a python-format message has."""
    return text.count("%%")


def mo_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "django.mo"


# The catalogues


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_and_none_is_fuzzy(locale):
    header, messages = catalogue(locale)
    assert messages, f"{locale}: the catalogue is empty"
    assert "fuzzy" not in header.flags, f"{locale}: the header is marked fuzzy, so msgfmt would drop it"
    untranslated = [e.msgid for e in messages if not all(form.strip() for form in e.forms)]
    fuzzy = [e.msgid for e in messages if "fuzzy" in e.flags]
    assert not untranslated, f"{locale}: {len(untranslated)} untranslated: {untranslated}"
    assert not fuzzy, f"{locale}: {len(fuzzy)} fuzzy: {fuzzy}"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs GNU gettext (scripts/test.sh installs it)")
def test_every_message_in_the_code_is_in_every_catalogue(tmp_path):
    """A string marked for translation but missing from a catalogue would show in English to everyone."""
    copy = tmp_path / "patron"
    shutil.copytree(LOCALE_DIR.parent, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "pl", "--no-wrap"],
        cwd=copy,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "patron.settings", "PYTHONPATH": str(tmp_path)},
        check=True,
        capture_output=True,
    )
    found = {(e.msgctxt, e.msgid) for e in parse_po(copy / "locale" / "pl" / "LC_MESSAGES" / "django.po")[1:]}
    for locale in LOCALES:
        _, messages = catalogue(locale)
        missing = found - {(e.msgctxt, e.msgid) for e in messages}
        assert not missing, (
            f"{locale}: {len(missing)} messages in the code are not in the catalogue: {sorted(m for _, m in missing)}"
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_the_header_names_the_language_and_its_plural_rule(locale):
    header, messages = catalogue(locale)
    assert f"Language: {locale}\n" in header.msgstr
    assert "charset=UTF-8" in header.msgstr
    plural, nplurals = plural_function(header)
    assert nplurals == PLURAL_FORMS[locale]
    assert {plural(n) for n in range(1000)} <= set(range(nplurals))
    for entry in messages:
        if entry.msgid_plural is not None:
            assert sorted(entry.msgstr_plural) == list(range(nplurals)), f"{locale}: {entry.msgid!r}"


def test_plural_rules_pick_the_right_forms():
    rules = {locale: plural_function(catalogue(locale)[0])[0] for locale in LOCALES}
    # Polish: 1 plik, 2 pliki, 5 plików, 22 pliki, 25 plików, 112 plików.
    assert [rules["pl"](n) for n in (1, 2, 5, 22, 25, 112, 0)] == [0, 1, 2, 1, 2, 2, 2]
    # Russian: 1 файл, 21 файл, 2 файла, 5 файлов, 11 файлов, 12 файлов.
    assert [rules["ru"](n) for n in (1, 21, 2, 24, 5, 11, 12, 0)] == [0, 0, 1, 1, 2, 2, 2, 2]
    assert [rules["bg"](n) for n in (1, 0, 2, 21)] == [0, 1, 1, 1]
    assert {rules["zh_Hans"](n) for n in range(100)} == {0}


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_are_kept(locale):
    header, messages = catalogue(locale)
    plural, _ = plural_function(header)
    problems = []
    for entry in messages:
        if entry.msgid_plural is None:
            if placeholders(entry.msgstr) != placeholders(entry.msgid):
                problems.append((entry.msgid, entry.msgstr))
            if "python-format" in entry.flags and literal_percents(entry.msgstr) != literal_percents(entry.msgid):
                problems.append((entry.msgid, entry.msgstr))
            continue
        allowed = placeholders(entry.msgid) | placeholders(entry.msgid_plural)
        # A form used for any number but 1 must show the number; the form for exactly 1 may spell it out.
        for index, form in enumerate(entry.forms):
            needed = placeholders(entry.msgid_plural) if any(plural(n) == index for n in range(2, 1000)) else set()
            if not needed <= placeholders(form) <= allowed:
                problems.append((entry.msgid, form))
    assert not problems, f"{locale}: placeholders differ in {problems}"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalogue_matches_the_po_file(locale):
    """The .mo files are committed, so installing Patron needs no gettext: they must not lag behind."""
    _, messages = catalogue(locale)
    with mo_path(locale).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in messages:
        if entry.msgctxt is not None:
            got = [compiled.pgettext(entry.msgctxt, entry.msgid)]
            want = [entry.msgstr]
        elif entry.msgid_plural is None:
            got, want = [compiled.gettext(entry.msgid)], [entry.msgstr]
        else:
            got = [compiled._catalog.get((entry.msgid, i)) for i in range(len(entry.forms))]
            want = entry.forms
        if got != want:
            stale.append(entry.msgid)
    assert not stale, f"{locale}: django.mo is out of date for {stale}; run `patron compilemessages`"


# The pages


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "pl", "bg", "ru", "zh-hans"])
def test_the_sign_in_page_follows_the_browser_language(language):
    header = "zh-Hans,zh;q=0.9" if language == "zh-hans" else f"{language},en;q=0.5"
    response = Client(headers={"Accept-Language": header}).get(reverse("login"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    assert f">{SIGN_IN[language]}</button>" in page


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["pl", "bg", "ru", "zh-hans"])
def test_the_language_cookie_wins_over_the_browser(language):
    client = Client(headers={"Accept-Language": "en"})
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(reverse("login")).content.decode()
    assert f'<html lang="{language}">' in page
    assert f">{SIGN_IN[language]}</button>" in page


@pytest.mark.django_db
def test_the_accounts_page_behind_sign_in_speaks_polish(member):
    client = Client()
    client.force_login(member)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pl"
    response = client.get(reverse("customers:account_list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="pl">' in page
    assert f"<h1>{ACCOUNTS['pl']}</h1>" in page
    assert "Accounts" not in page


@pytest.mark.django_db
def test_switching_language_sets_the_cookie(member):
    client = Client()
    client.force_login(member)
    response = client.post(reverse("language"), {"language": "ru", "next": reverse("customers:account_list")})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert '<html lang="ru">' in page
    assert f"<h1>{ACCOUNTS['ru']}</h1>" in page


@pytest.mark.parametrize(("language", "expected"), [("pl", "Aktywny"), ("ru", "Активен"), ("zh-hans", "活跃")])
def test_model_choices_are_translated(language, expected):
    with translation.override(language):
        assert str(LifecycleStage.ACTIVE.label) == expected


@pytest.mark.django_db
def test_record_errors_speak_the_users_language(member):
    from django.utils import translation

    from patron.customers import services as customers
    from patron.errors import NotFound

    with translation.override("pl"), pytest.raises(NotFound) as missing:
        customers.contacts.get(member, 987654)
    assert missing.value.message == "Nie znaleziono: Kontakt 987654."
    with translation.override("en"), pytest.raises(NotFound) as missing:
        customers.contacts.get(member, 987654)
    assert missing.value.message == "Contact 987654 not found."


@pytest.mark.parametrize("language", ["pl", "bg", "ru", "zh-hans"])
def test_no_language_falls_back_to_us_date_formats(language):
    from django.utils.formats import get_format

    with translation.override(language):
        assert get_format("SHORT_DATETIME_FORMAT") != "m/d/Y P"
        assert get_format("DATETIME_FORMAT") != "N j, Y, P"
        assert get_format("FIRST_DAY_OF_WEEK") == 1


def test_bulgarian_dates_read_and_print_day_first():
    import datetime as dt

    from django import forms
    from django.utils.formats import date_format

    moment = dt.datetime(2026, 11, 23, 14, 55)
    with translation.override("bg"):
        assert date_format(moment, "SHORT_DATETIME_FORMAT") == "23.11.2026 14:55"
        assert forms.DateField().clean("23.11.2026") == dt.date(2026, 11, 23)
        assert forms.DateTimeField().clean("23.11.2026 14:55").replace(tzinfo=None) == moment


def test_conflicts_speak_the_users_language(admin_user):
    from patron.customers import services as customers
    from patron.errors import Conflict
    from tests.factories import ProductFactory, SubscriptionFactory

    product = SubscriptionFactory(product=ProductFactory()).product
    with translation.override("pl"), pytest.raises(Conflict) as kept:
        customers.products.delete(admin_user, product.pk)
    assert kept.value.message == f"Nie można usunąć (Produkt {product.pk}): odwołują się do tego rekordu inne rekordy."
    with translation.override("en"), pytest.raises(Conflict) as kept:
        customers.products.delete(admin_user, product.pk)
    assert kept.value.message == f"Product {product.pk} is still referred to by other records and cannot be deleted."
