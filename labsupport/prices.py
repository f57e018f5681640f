"""What tokens cost: a model's prices per million tokens, and the mock's price table.

Providers publish prices per million tokens read (the prompt) and written (the
completion); a request costs both counts at their rates:

    >>> PRICES["lab-mock-1"].cost(prompt_tokens=1_000, completion_tokens=200)
    0.0008

Every front end shows an amount the same way, with enough digits for a fraction of a cent:

    >>> format_cost(0.0000985), format_cost(0.0008), format_cost(2.0)
    ('$0.0000985', '$0.0008', '$2.0')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["PRICES", "Prices", "format_cost"]


@dataclass(frozen=True, slots=True)
class Prices:
    """US dollars per million tokens read (prompt) and written (completion)."""

    input_per_million: float
    output_per_million: float

    def __post_init__(self) -> None:
        for name in ("input_per_million", "output_per_million"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Price of a request with these token counts, in US dollars."""
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


PRICES: dict[str, Prices] = {
    "lab-mock-1": Prices(input_per_million=0.50, output_per_million=1.50),
    "lab-mock-large": Prices(input_per_million=3.00, output_per_million=15.00),
}
"""Price table of the mock's models, in the shape providers publish theirs."""


def format_cost(usd: float) -> str:
    """Dollars with enough digits to see a fraction of a cent: ``0.0000985 -> '$0.0000985'``."""
    text = f"{usd:.7f}".rstrip("0")
    return "$" + (text + "0" if text.endswith(".") else text)
