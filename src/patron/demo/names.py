"""Countries of the demo base and the names, places, phones and e-mail domains that fit each one.

People's names come from Faker's locales (pl_PL, bg_BG, ru_RU, zh_CN, de_DE, en_GB, en_US, fr_FR, ...),
drawn once into pools per locale and gender (Polish, Bulgarian and Russian surnames change with gender),
so a million contacts cost a few thousand Faker calls rather than millions.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker
from faker.decode import unidecode


@dataclass(frozen=True)
class Country:
    """A country customers live in: its Faker locale, language, cities, phone format and mail domains."""

    code: str
    locale: str
    language: str
    weight: float
    tld: str
    phone: str
    cities: tuple[str, ...]
    legal_forms: tuple[str, ...]
    mail_domains: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country(
        "PL", "pl_PL", "pl", 0.17, "pl", "+48 ### ### ###",
        ("Warszawa", "Kraków", "Wrocław", "Poznań", "Gdańsk", "Łódź", "Katowice", "Lublin", "Szczecin", "Rzeszów"),
        ("Sp. z o.o.", "S.A.", "Sp. j.", "Sp. k."),
        ("wp.pl", "onet.pl", "gmail.com", "o2.pl", "interia.pl"),
    ),
    Country(
        "DE", "de_DE", "de", 0.15, "de", "+49 ### #######",
        ("Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf", "Leipzig", "Dresden"),
        ("GmbH", "AG", "GmbH & Co. KG", "KG"),
        ("gmx.de", "web.de", "t-online.de", "gmail.com"),
    ),
    Country(
        "US", "en_US", "en", 0.12, "com", "+1 ###-###-####",
        ("New York", "Chicago", "Austin", "Boston", "Seattle", "Atlanta", "Denver", "San Francisco", "Columbus"),
        ("Inc.", "LLC", "Corp.", "Co."),
        ("gmail.com", "yahoo.com", "outlook.com", "icloud.com"),
    ),
    Country(
        "GB", "en_GB", "en", 0.10, "co.uk", "+44 #### ######",
        ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Edinburgh", "Cambridge", "Cardiff"),
        ("Ltd", "plc", "LLP"),
        ("gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"),
    ),
    Country(
        "FR", "fr_FR", "fr", 0.08, "fr", "+33 # ## ## ## ##",
        ("Paris", "Lyon", "Marseille", "Toulouse", "Lille", "Bordeaux", "Nantes", "Strasbourg", "Rennes"),
        ("SA", "SAS", "SARL"),
        ("orange.fr", "free.fr", "gmail.com", "laposte.net", "sfr.fr"),
    ),
    Country(
        "CN", "zh_CN", "zh-hans", 0.08, "cn", "+86 ### #### ####",
        ("北京", "上海", "深圳", "广州", "杭州", "成都", "南京", "苏州", "武汉"),
        ("有限公司", "股份有限公司"),
        ("qq.com", "163.com", "126.com", "sina.com"),
    ),
    Country(
        "BG", "bg_BG", "bg", 0.07, "bg", "+359 ## ### ####",
        ("София", "Пловдив", "Варна", "Бургас", "Русе", "Стара Загора", "Плевен", "Благоевград"),
        ("ЕООД", "ООД", "АД"),
        ("abv.bg", "mail.bg", "gmail.com", "dir.bg"),
    ),
    Country(
        "RU", "ru_RU", "ru", 0.06, "ru", "+7 ### ###-##-##",
        ("Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань", "Нижний Новгород", "Самара"),
        ("ООО", "АО", "ПАО"),
        ("mail.ru", "yandex.ru", "gmail.com", "rambler.ru"),
    ),
    Country(
        "ES", "es_ES", "es", 0.05, "es", "+34 ### ### ###",
        ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Málaga", "Zaragoza"),
        ("S.L.", "S.A."),
        ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net"),
    ),
    Country(
        "IT", "it_IT", "it", 0.05, "it", "+39 ### ### ####",
        ("Milano", "Roma", "Torino", "Bologna", "Firenze", "Napoli", "Verona"),
        ("S.p.A.", "S.r.l."),
        ("gmail.com", "libero.it", "virgilio.it", "alice.it"),
    ),
    Country(
        "NL", "nl_NL", "nl", 0.04, "nl", "+31 6 ########",
        ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Den Haag", "Groningen"),
        ("B.V.", "N.V."),
        ("gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl"),
    ),
    Country(
        "CZ", "cs_CZ", "cs", 0.03, "cz", "+420 ### ### ###",
        ("Praha", "Brno", "Ostrava", "Plzeň", "Olomouc", "Liberec"),
        ("s.r.o.", "a.s."),
        ("seznam.cz", "gmail.com", "email.cz", "centrum.cz"),
    ),
)  # fmt: skip

# Words a Bulgarian company name is made of (Faker's bg_BG companies look machine-made).
_BG_STEMS = ("Инвест", "Трейд", "Строй", "Лоджистик", "Софт", "Агро", "Енерджи", "Консулт", "Медикъл", "Транс")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def ascii_slug(text: str, words: int = 2) -> str:
    """Return a lower-case ASCII slug of the first ``words`` words of ``text`` (transliterated), for e-mails."""
    parts = [p for p in _NON_WORD.split(unidecode(text).lower()) if p]
    return "".join(parts[:words]) or "mail"


@dataclass(frozen=True)
class NamePool:
    """First and last names of one locale by gender, with their ASCII spellings for e-mail addresses."""

    first: tuple[tuple[str, ...], tuple[str, ...]]
    last: tuple[tuple[str, ...], tuple[str, ...]]
    first_ascii: tuple[tuple[str, ...], tuple[str, ...]]
    last_ascii: tuple[tuple[str, ...], tuple[str, ...]]


def _distinct(draw, count: int) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for _ in range(count * 4):
        seen.setdefault(draw(), None)
        if len(seen) >= count:
            break
    return tuple(seen)


@lru_cache(maxsize=64)
def name_pool(locale: str, seed: int, size: int = 240) -> NamePool:
    """Return the seeded pool of names for ``locale`` (index 0 female, 1 male)."""
    fake = Faker(locale)
    fake.seed_instance(seed)
    first = (_distinct(fake.first_name_female, size), _distinct(fake.first_name_male, size))
    last_female = getattr(fake, "last_name_female", fake.last_name)
    last_male = getattr(fake, "last_name_male", fake.last_name)
    last = (_distinct(last_female, size), _distinct(last_male, size))
    return NamePool(
        first=first,
        last=last,
        first_ascii=tuple(tuple(ascii_slug(n, 3) for n in names) for names in first),  # type: ignore[arg-type]
        last_ascii=tuple(tuple(ascii_slug(n, 3) for n in names) for names in last),  # type: ignore[arg-type]
    )


class CompanyNames:
    """Company names that fit a country, drawn from Faker's locale (its own builder for Bulgaria)."""

    def __init__(self, seed: int):
        self._seed = seed
        self._fakers: dict[str, Faker] = {}
        self._rng = random.Random(seed)

    def _faker(self, country: Country) -> Faker:
        fake = self._fakers.get(country.locale)
        if fake is None:
            fake = Faker(country.locale)
            fake.seed_instance(self._seed)
            self._fakers[country.locale] = fake
        return fake

    def make(self, country: Country) -> str:
        """Return one company name for ``country``."""
        fake = self._faker(country)
        if country.code == "BG":
            return f"{fake.last_name_male()} {self._rng.choice(_BG_STEMS)} {self._rng.choice(country.legal_forms)}"
        name = fake.company()
        if country.code == "RU" and "«" not in name and self._rng.random() < 0.6:
            return f"{self._rng.choice(country.legal_forms)} «{name}»"
        return name

    @staticmethod
    def domain(name: str, country: Country) -> str:
        """Return the web domain a company called ``name`` would own."""
        return f"{ascii_slug(name, 2)[:30]}.{country.tld}"
