"""The web console: a browser face over the same APIs the official clients use.

It holds no state. Every write (and most reads) goes to kumo's own OpenStack and
diagnose APIs in-process (``apicall``), with the browser's token and address, so a page
shows exactly what the API would answer and an error is the API's own message. The one
hot read, the server list and its live updates, reads the store scoped by the token's
project (``Actor.sees``, the rule every face applies) and follows its watch.

Layers: ``app`` > ``console`` > the faces; the console reuses Nova's status mapping
(``compute.views.server_status``) rather than restating it.
"""
