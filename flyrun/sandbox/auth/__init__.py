"""Sign-in for ``flyrun sandbox --auth``: a small OAuth 2.0 authorization server built on authlib."""
