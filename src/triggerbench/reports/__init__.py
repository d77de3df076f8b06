"""Reports: tables (and later plots) rendered from a DataFrame of records; never runs a model."""
