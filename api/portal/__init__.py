"""The hosted customer portal: a product's end users see their balance and usage, buy credits
and manage their card and auto-recharge, through a signed link the product asks the API for."""
