"""The `kcn` command line and the scheduled daily crawl."""
