"""Tracking: the open pixel, click redirects and unsubscribe pages, and the sink that
appends what they record to the data plane in batches."""
