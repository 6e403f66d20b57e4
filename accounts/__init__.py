"""Officers' accounts, one for every web area (police, outreach, review, bureau):

- ``officers``: the accounts (hashed passwords, lockout, session versions, roles);
- ``audit``: the log of every sign-in, view and change;
- ``web``: the one sign-in and sign-out, the session check, the role check
  (``Guard``), the security headers, and the base template and stylesheet of every
  officers' page (``accounts/base.html``, ``accounts/login.html``).

It imports ``storage/``, ``settings/``, ``throttle/`` and ``weburl/`` only: the areas
import it, never the other way round.
"""
