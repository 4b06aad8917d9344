"""Plans: the versioned catalogue, migrations of customers between versions, simulations."""
