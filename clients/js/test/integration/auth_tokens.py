"""The authenticator of the JS client's integration tests: one static token (see docs/security.md)."""

from myagent.auth import StaticTokens

authenticate = StaticTokens({"js-client-token": "js-tester"})
