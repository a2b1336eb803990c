"""Talking to FlyteAdmin (or ``flyrun sandbox``) over REST: transport, session, sign-in."""
