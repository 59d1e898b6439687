"""`lobby:coaches`: the waiting list, kept live for coaches' dashboards."""

from typing import Any

from channels.db import database_sync_to_async

from coaching import policy, selectors
from coaching.realtime.channel import Channel


class LobbyChannel(Channel):
    async def join(self, params: dict[str, Any]) -> dict[str, Any]:
        return await database_sync_to_async(self._load)()

    def _load(self) -> dict[str, Any]:
        policy.check_coach(self.user)
        return {"sessions": selectors.lobby_snapshot()}
