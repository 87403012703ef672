"""The Scrapy project of kcn-archive: settings, the generic spider, the outlet registry."""
