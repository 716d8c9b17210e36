"""The synthetic study: people, wear, records and ranges, study life, signals, GPS routes and tracks,
planning and ground truth. Pure logic: no Flask, no files, no HTTP."""
