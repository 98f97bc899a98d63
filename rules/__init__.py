"""Built-in rule base (TOML files). Data only: nothing here is executed."""
