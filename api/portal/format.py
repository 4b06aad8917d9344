"""Money as the portal shows it.

A stand-in kept in this one place: the shared Babel ``money`` filter of the API's templates
replaces it (register that filter on ``api.portal.views.TEMPLATES`` instead of this one).
"""

from decimal import ROUND_HALF_EVEN, Decimal

from creditgate.pricing.currency import minor_unit_exponent

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(amount: Decimal | str | int, unit: str) -> str:
    """``$1,234.50`` for a currency (at least its minor unit, more digits when the amount has
    them: usage costs are often fractions of a cent); ``12.5 credits`` for a credit unit."""
    value = Decimal(amount)
    code = unit.upper()
    if not (len(code) == 3 and code.isalpha()):
        return f"{value.normalize():,f} {unit}"
    places = minor_unit_exponent(code)
    exponent = max(places, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
    shown = value.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN)
    sign = "−" if shown < 0 else ""
    symbol = SYMBOLS.get(code)
    digits = f"{abs(shown):,f}"
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {code}"
