"""Money in: purchase and recharge amounts, Stripe PaymentIntents, refunds."""
