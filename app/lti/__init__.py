"""LTI 1.3 tool: OIDC login, launch validation, deep linking, and AGS grade passback.

Protocol logic lives here; the HTTP routes are in ``app/routes/lti.py``. Grading goes
through ``GradingService.grade`` only.
"""
