"""Hypothesis strategies for prices and usage.

Quantities have at most 6 decimal places and amounts at most 12, so every product is exact at
18 places: any difference the properties find is the model's, never a rounding artefact.
"""

from decimal import Decimal
from typing import Literal

from hypothesis import strategies as st

from creditgate.pricing.plan import Price, Tier


def decimals(max_value: int, places: int, min_value: int = 0) -> st.SearchStrategy[Decimal]:
    """Decimals in [min_value, max_value] with up to ``places`` decimal places."""
    scale = 10**places
    return st.integers(min_value * scale, max_value * scale).map(
        lambda n: Decimal(n).scaleb(-places).normalize() if n else Decimal(0)
    )


quantities = st.one_of(st.integers(0, 2_000).map(Decimal), decimals(2_000, 6))
usage = st.lists(quantities, min_size=1, max_size=30)
amounts = st.one_of(decimals(10, 2), decimals(1, 12))
package_sizes = st.one_of(st.integers(1, 5_000).map(Decimal), decimals(100, 3).filter(bool))


def per_unit_prices() -> st.SearchStrategy[Price]:
    return amounts.map(lambda a: Price(meter="m", model="per_unit", unit_amount=a))


def package_prices(
    rounding: Literal["up", "down"] = "up",
    sizes: st.SearchStrategy[Decimal] | None = None,
    unit_amounts: st.SearchStrategy[Decimal] | None = None,
) -> st.SearchStrategy[Price]:
    return st.builds(
        lambda a, s: Price(
            meter="m", model="package", unit_amount=a, package_size=s, rounding=rounding
        ),
        amounts if unit_amounts is None else unit_amounts,
        package_sizes if sizes is None else sizes,
    )


@st.composite
def tier_lists(draw: st.DrawFn, *, flat: bool, rising: bool = False) -> list[Tier]:
    """1 to 5 tiers, the last open; bounds whole or fractional. ``rising``: unit and flat
    amounts never decrease from tier to tier (so the volume total never drops)."""
    bounds = sorted(draw(st.sets(st.integers(1, 1_500), max_size=4)))
    extra = draw(st.lists(st.sampled_from(["0", "0.5", "0.25"]), min_size=len(bounds)))
    ups: list[Decimal | None] = [
        Decimal(b) + Decimal(x) for b, x in zip(bounds, extra, strict=False)
    ]
    ups.append(None)
    units = draw(st.lists(amounts, min_size=len(ups), max_size=len(ups)))
    flats = draw(st.lists(amounts, min_size=len(ups), max_size=len(ups)))
    if not flat:
        flats = [Decimal(0)] * len(ups)
    if rising:
        units, flats = sorted(units), sorted(flats)
    return [
        Tier(up_to=u, unit_amount=a, flat_amount=f)
        for u, a, f in zip(ups, units, flats, strict=True)
    ]


def tiered_prices(
    model: Literal["tiered_graduated", "tiered_volume"], *, flat: bool, rising: bool = False
) -> st.SearchStrategy[Price]:
    return tier_lists(flat=flat, rising=rising).map(
        lambda tiers: Price(meter="m", model=model, tiers=tiers)
    )


any_prices = st.one_of(
    per_unit_prices(),
    package_prices("up"),
    package_prices("down"),
    tiered_prices("tiered_graduated", flat=True),
    tiered_prices("tiered_volume", flat=True),
)
