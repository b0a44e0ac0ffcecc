"""API tokens: authentication and the bootstrap token."""

from __future__ import annotations

import hashlib
import secrets
import time

from supersvg.scheduler.core.base import SchedulerBase, log
from supersvg.scheduler.core.errors import Refusal, SchedulerError
from supersvg.scheduler.store import TenantRecord, TokenRecord

__all__ = ["Auth", "hash_token", "new_api_token"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token() -> str:
    return "ssvg_" + secrets.token_urlsafe(32)


class Auth(SchedulerBase):
    """Tokens are stored hashed; a revoked token is refused like an unknown one."""

    async def authenticate(self, token: str) -> TenantRecord:
        tok = await self.store.token_by_hash(hash_token(token)) if token else None
        if tok is None or tok.revoked_at is not None:
            raise SchedulerError(
                Refusal.UNAUTHENTICATED, "UNAUTHENTICATED", "invalid or revoked token"
            )
        tenant = await self.store.get_tenant(tok.tenant_id)
        return tenant or TenantRecord(tenant_id=tok.tenant_id)

    async def _bootstrap_token(self) -> None:
        """Ensure the configured bootstrap token exists (idempotent; rotating it adds one)."""
        token, tenant = self.settings.bootstrap_token, self.settings.bootstrap_tenant
        if not token:
            return
        digest = hash_token(token)
        if await self.store.token_by_hash(digest) is not None:
            return
        if await self.store.get_tenant(tenant) is None:
            await self.store.upsert_tenant(TenantRecord(tenant))
        rec = TokenRecord(f"tok_boot_{digest[:8]}", tenant, "bootstrap", time.time())
        await self.store.create_token(rec, digest)
        log.info("bootstrap token created", extra={"tenant_id": tenant, "token_id": rec.token_id})
