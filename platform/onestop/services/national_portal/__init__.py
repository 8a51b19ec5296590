"""The National Public Service Portal (Cổng Dịch vụ công quốc gia) connection: dossiers the portal
pushes are received at the right centre, and every status change of those dossiers is told back.

One job a module: `options` (where the portal is, the shared secret, the HTTP client), `inbound`
(a signed push checked, routed by agency and procedure code, received once, answered with the
statutory receipt; refusals recorded), `outbox` (a status change queued in the transaction that
makes it, numbered per dossier), `sync` (the worker's sending, retries with backoff, the
reconciliation that re-sends what the portal lost, each centre's health, the back office's retry).
Import the module you need (the package imports nothing, so that services.steps may import
`outbox` without a cycle). The contract is docs/integrations.md (the national portal); the simulator is onestop.simulators.portal.
"""
