"""The sources of a night, one package each, named after the table it fills: extract, build the table, stage it."""
