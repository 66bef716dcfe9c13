"""Rules: the schema, where rules come from (the config file, saved overrides), and who
may change them."""
