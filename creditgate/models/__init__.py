"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``."""

from creditgate.models.customer import Customer, CustomerStatus, Wallet

__all__ = ["Customer", "CustomerStatus", "Wallet"]
