"""WeChat Official Account (公众号) channel: signed XML callbacks in, passive replies and
customer-service messages out. `router` holds the HTTP endpoints, `service` the 5-second logic.
"""
