"""The lake: the contract tables, staging under run prefixes, the Glue catalog, the partition switch, the runs log."""
