"""Signing in to FlyteAdmin: discovery, the sign-in flows, token storage and renewal.

``TokenManager`` (manager.py) is what ``AdminSession`` uses; the flows are ``DeviceFlow`` (device.py), ``Pkce``
(pkce.py), ``ClientSecret`` and ``ExternalCommand`` (machine.py); ``TokenStore`` (store.py) keeps tokens.
"""
