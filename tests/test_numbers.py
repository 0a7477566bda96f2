"""Phone numbers are read once, as typed, and reach the API as the same E.164 digits.

Every test goes through the real command layer and the real client to the
sandbox (in process), and checks what the sandbox received and now holds.
"""

from __future__ import annotations

import re

import hypothesis
import phonenumbers
import pytest
from conftest import ADMIN
from conftest import run_confirmed as run
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from bot.commands.layer import CommandLayer
from bot.commands.membership import person_statuses
from bot.commands.types import Reply
from bot.config import Settings
from bot.runtime import build_commands
from bot.sandbox import Sandbox
from bot.store import Store
from bot.whatsapp import InvalidNumber, PhoneNumber, WhatsAppClient

SALES = "120363123456789012@g.us"

# (typed by an admin, the E.164 digits the API must get); none ends in 0000,
# which the sandbox treats as privacy-blocked.
COUNTRIES = [
    pytest.param("+1 415 555 0100", "14155550100", id="US"),
    pytest.param("+1 (604) 555-0199", "16045550199", id="CA"),
    pytest.param("+44 20 7946 0958", "442079460958", id="GB-landline"),
    pytest.param("+44 7911 123456", "447911123456", id="GB-mobile"),
    pytest.param("+49 30 1234567", "49301234567", id="DE-landline"),
    pytest.param("+49 1512 3456789", "4915123456789", id="DE-mobile"),
    pytest.param("+351 21 234 5678", "351212345678", id="PT-landline"),
    pytest.param("+351 912 345 678", "351912345678", id="PT-mobile"),
    pytest.param("+55 11 3333-4444", "551133334444", id="BR-landline"),
    pytest.param("+55 11 97777-1111", "5511977771111", id="BR-mobile"),
    pytest.param("0049 30 1234567", "49301234567", id="DE-00-prefix"),
]


def received(sandbox: Sandbox, endpoint: str) -> list[list[str]]:
    """The participant lists of every `endpoint` request the sandbox got."""
    bodies = [r.body for r in sandbox.requests if r.endpoint == endpoint]
    return [body.get("participants") for body in bodies if isinstance(body, dict)]


def members(sandbox: Sandbox, group_id: str = SALES) -> dict[str, str | None]:
    return dict(sandbox.groups[group_id].participants)


def layer_for(region: str, config: Settings, client: WhatsAppClient, store: Store) -> CommandLayer:
    """The command layer with `pilot.default_country = region`."""
    pilot = config.pilot.model_copy(update={"default_country": region})
    return build_commands(config.model_copy(update={"pilot": pilot}), client=client, store=store)


# -- every command, every country ---------------------------------------------------


@pytest.mark.parametrize(("typed", "digits"), COUNTRIES)
async def test_create_sends_the_typed_number(layer, sandbox, typed, digits) -> None:
    reply = await run(layer, f"/create Launch {typed}")
    assert received(sandbox, "create_group") == [[digits]]
    created = next(g for g in sandbox.groups.values() if g.name == "Launch")
    assert digits in created.participants
    assert reply.ok, reply.text
    assert f"+{digits}: added" in reply.text.splitlines()


@pytest.mark.parametrize(("typed", "digits"), COUNTRIES)
async def test_add_sends_the_typed_number(layer, sandbox, typed, digits) -> None:
    reply = await run(layer, f"/add sales {typed}")
    assert received(sandbox, "add") == [[digits]]
    assert members(sandbox)[digits] is None
    assert reply.ok, reply.text
    assert f"+{digits}: added" in reply.text.splitlines()


@pytest.mark.parametrize(("typed", "digits"), COUNTRIES)
async def test_add_of_a_member_says_already_a_member(layer, sandbox, typed, digits) -> None:
    sandbox.add_participants(SALES, [digits])
    reply = await run(layer, f"/add sales {typed}")
    assert received(sandbox, "add") == [[digits]]
    assert f"+{digits}: already a member" in reply.text.splitlines()
    assert reply.ok, reply.text


@pytest.mark.parametrize(("typed", "digits"), COUNTRIES)
async def test_remove_sends_the_typed_number(layer, sandbox, typed, digits) -> None:
    sandbox.add_participants(SALES, [digits])
    reply = await run(layer, f"/remove sales {typed}")
    assert received(sandbox, "remove") == [[digits]]
    assert digits not in members(sandbox)
    assert reply.ok, reply.text
    assert f"+{digits}: removed" in reply.text.splitlines()


@pytest.mark.parametrize(("typed", "digits"), COUNTRIES)
async def test_promote_sends_the_typed_number(layer, sandbox, typed, digits) -> None:
    sandbox.add_participants(SALES, [digits])
    reply = await run(layer, f"/promote sales {typed}")
    assert received(sandbox, "promote") == [[digits]]
    assert members(sandbox)[digits] == "admin"
    assert reply.ok, reply.text
    assert f"+{digits}: admin" in reply.text.splitlines()


@pytest.mark.parametrize(("typed", "digits"), COUNTRIES)
async def test_demote_sends_the_typed_number(layer, sandbox, typed, digits) -> None:
    sandbox.add_participants(SALES, [digits])
    sandbox.set_roles(SALES, [digits], admin=True)
    reply = await run(layer, f"/demote sales {typed}")
    assert received(sandbox, "demote") == [[digits]]
    assert members(sandbox)[digits] is None
    assert reply.ok, reply.text
    assert f"+{digits}: member" in reply.text.splitlines()


async def test_several_countries_in_one_command(layer, sandbox) -> None:
    typed = " ".join(str(p.values[0]) for p in COUNTRIES)
    expected = list(dict.fromkeys(str(p.values[1]) for p in COUNTRIES))
    reply = await run(layer, f'/create "World team" {typed}')
    assert received(sandbox, "create_group") == [expected]
    created = next(g for g in sandbox.groups.values() if g.name == "World team")
    assert set(expected) <= set(created.participants)
    assert reply.ok, reply.text


async def test_stranger_not_added_by_a_foreign_number(layer, sandbox) -> None:
    """The reported case: +1 must never become a Brazilian number (+55 14…)."""
    before = set(members(sandbox))
    reply = await run(layer, "/add sales +1 415 555 0100")
    assert set(members(sandbox)) - before == {"14155550100"}
    assert "5514155550100" not in reply.text


# -- bare digits: no + and no 00 -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        # A valid number of default_country (BR) wins: bare digits are national.
        pytest.param("11977771111", "5511977771111", id="BR-mobile-national"),
        pytest.param("(11) 97777-1111", "5511977771111", id="BR-mobile-brackets"),
        pytest.param("1133334444", "551133334444", id="BR-landline-national"),
        pytest.param("51987654321", "5551987654321", id="BR-over-PE"),
        # Not a valid BR number, but a valid international one.
        pytest.param("14155550100", "14155550100", id="US-bare"),
        pytest.param("49301234567", "49301234567", id="DE-bare"),
        pytest.param("5511977771111", "5511977771111", id="BR-bare-international"),
        pytest.param("442079460958", "442079460958", id="GB-bare"),
        # Valid nowhere: the old length rule, and the ninth digit is never added.
        pytest.param("11 9999-9999", "551199999999", id="BR-old-8-digit-mobile"),
    ],
)
async def test_bare_digits(layer, sandbox, typed, digits) -> None:
    reply = await run(layer, f"/add sales {typed}")
    assert received(sandbox, "add") == [[digits]]
    assert f"+{digits}: added" in reply.text.splitlines()


@pytest.mark.parametrize("typed", ["+1 555 0100", "+44 20 7946"])
async def test_number_without_its_area_code_is_refused(layer, sandbox, typed) -> None:
    outcome = await layer.execute(f"/add sales {typed}", ADMIN)
    assert isinstance(outcome, Reply)
    assert not outcome.ok
    assert repr(typed) in outcome.text
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("region", "typed", "digits"),
    [
        ("US", "(415) 555-0100", "14155550100"),
        ("US", "5511977771111", "5511977771111"),
        ("US", "+55 11 97777-1111", "5511977771111"),
        ("PT", "212 345 678", "351212345678"),
        ("DE", "030 1234567", "49301234567"),
        ("GB", "020 7946 0958", "442079460958"),
        ("GB", "+1 415 555 0100", "14155550100"),
        # The first groups already look like a whole number; the rest is still part of it.
        ("TR", "0501 234 56 78", "905012345678"),
    ],
)
async def test_default_country_applies_only_without_a_country_code(
    settings, client, store, sandbox, region, typed, digits
) -> None:
    reply = await run(layer_for(region, settings, client, store), f"/add sales {typed}")
    assert received(sandbox, "add") == [[digits]]
    assert f"+{digits}: added" in reply.text.splitlines()


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("+55 11 99999-9999", "5511999999999"),
        ("5511999999999", "5511999999999"),
        ("(11) 99999-9999", "5511999999999"),
        ("+55 (21) 9 8888-7777", "5521988887777"),
        ("0055 11 99999 9999", "5511999999999"),
        ("011 99999-9999", "5511999999999"),
        ("+1 (415) 555-2671", "14155552671"),
        ("+351 912.345.678", "351912345678"),
    ],
)
async def test_common_ways_of_writing(layer, sandbox, typed, digits) -> None:
    await run(layer, f"/add sales {typed}")
    assert received(sandbox, "add") == [[digits]]


# -- the value type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["12ab", "123", "", "+", "5511", "call me", "+55 11 99999-99999999", "+1 555 0100"]
)
def test_bad_text_is_not_a_number(bad) -> None:
    with pytest.raises(InvalidNumber) as info:
        PhoneNumber.parse(bad, "BR")
    assert info.value.value == bad
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", ["", "+14155550100", "014155550100", "1415555o100", "2812345678"])
def test_the_constructor_takes_only_e164_digits(bad) -> None:
    with pytest.raises(ValueError):
        PhoneNumber(bad)


def test_a_number_shows_with_plus_and_sends_digits() -> None:
    number = PhoneNumber.parse("+1 415 555 0100", "BR")
    assert number == PhoneNumber("14155550100")
    assert number.digits == "14155550100"
    assert str(number) == "+14155550100"
    assert len({number, PhoneNumber("14155550100")}) == 1


@pytest.mark.parametrize(
    ("answered", "digits"),
    [
        ("5511999999999", "5511999999999"),
        ("5511999999999@s.whatsapp.net", "5511999999999"),
        ("5511999999999:12@s.whatsapp.net", "5511999999999"),
        ("+1 415 555 0100", "14155550100"),
    ],
)
def test_per_person_statuses_are_keyed_by_the_same_digits(answered, digits) -> None:
    raw = {"participants": [{"wa_id": answered, "status": "403"}]}
    assert person_statuses(raw) == {digits: "403"}


# -- property: any example number of any region, typed with + -------------------------

# (region, E.164 digits, international format, national format) of phonenumbers'
# example mobile and landline numbers of every region it knows.
EXAMPLES = sorted(
    {
        (
            region,
            phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:],
            phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL),
        )
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    }
)
DEFAULT_REGIONS = ["BR", "US", "GB", "DE", "PT", "IN", "JP"]


def respaced(draw: st.DrawFn, formatted: str) -> str:
    """`formatted` ("201-555-0123") with any common separator between its groups."""
    groups = re.split(r"[ -]", formatted)
    separators = draw(
        st.lists(
            st.sampled_from([" ", "-", ".", "", " "]),
            min_size=len(groups) - 1,
            max_size=len(groups) - 1,
        )
    )
    return groups[0] + "".join(
        sep + group for sep, group in zip(separators, groups[1:], strict=True)
    )


@st.composite
def international(draw: st.DrawFn) -> tuple[str, str, str]:
    """(default region, a number typed with + or 00, its E.164 digits)."""
    _region, digits, formatted, _national = draw(st.sampled_from(EXAMPLES))
    prefix = draw(st.sampled_from(["+", "00"]))
    typed = prefix + respaced(draw, formatted.removeprefix("+"))
    return draw(st.sampled_from(DEFAULT_REGIONS)), typed, digits


@st.composite
def national(draw: st.DrawFn) -> tuple[str, str, str]:
    """(default region, a number of that region typed without its code, its E.164 digits)."""
    region, digits, _formatted, formatted = draw(st.sampled_from(EXAMPLES))
    return region, respaced(draw, formatted), digits


FAST = hypothesis.settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(case=international())
async def test_any_international_number_reaches_the_api_as_typed(
    settings, client, store, sandbox, case
) -> None:
    region, typed, digits = case
    sandbox.reset_stats()
    await run(layer_for(region, settings, client, store), f"/add sales {typed}")
    assert received(sandbox, "add") == [[digits]]


@FAST
@given(case=national())
async def test_any_national_number_reaches_the_api_with_its_country_code(
    settings, client, store, sandbox, case
) -> None:
    region, typed, digits = case
    sandbox.reset_stats()
    await run(layer_for(region, settings, client, store), f"/add sales {typed}")
    assert received(sandbox, "add") == [[digits]]


# -- national numbers without their area code ----------------------------------------------------


@pytest.mark.parametrize(
    ("region", "typed"),
    [
        ("BR", "97777-1111"),  # a mobile number, no area code
        ("BR", "3333-4444"),  # a landline, no area code
        ("GB", "123 4567"),
        ("DE", "12 34"),
    ],
)
async def test_a_number_without_its_area_code_is_refused_before_any_call(
    settings, client, store, sandbox, region, typed
) -> None:
    sandbox.reset_stats()
    reply = await run(layer_for(region, settings, client, store), f"/add sales {typed}")
    assert not reply.ok
    assert f"'{typed}' looks like a number without its area code: write it with the area code" in (
        reply.text
    )
    assert received(sandbox, "add") == []


def test_the_area_code_sentence_gives_an_example_of_the_region() -> None:
    with pytest.raises(InvalidNumber) as refused:
        PhoneNumber.parse("97777-1111", "BR")
    assert str(refused.value) == (
        "'97777-1111' looks like a number without its area code: write it with the area code, "
        "e.g. +55 11 96123-4567"
    )


@pytest.mark.parametrize(
    ("region", "typed", "digits"),
    [
        ("BR", "11 97777-1111", "5511977771111"),
        ("BR", "(11) 3333-4444", "551133334444"),
        ("GB", "020 7946 0958", "442079460958"),
        ("DE", "030 1234567", "49301234567"),
        ("US", "415 555 0100", "14155550100"),
        ("PT", "912 345 678", "351912345678"),
    ],
)
def test_a_national_number_with_its_area_code_is_accepted(region, typed, digits) -> None:
    assert PhoneNumber.parse(typed, region).digits == digits
