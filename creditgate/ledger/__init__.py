"""The ledger: grants, burn-down debits, holds, expiry, outbox. One transaction per change."""
