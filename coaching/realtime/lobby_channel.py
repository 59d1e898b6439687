"""`lobby:coaches`: the waiting list, kept live for coaches' dashboards."""

from typing import Any

from coaching import policy, selectors
from coaching.realtime.channel import Channel
from coaching.realtime.db import in_db_thread


class LobbyChannel(Channel):
    async def join(self, params: dict[str, Any]) -> dict[str, Any]:
        return await in_db_thread(self._load)()

    def _load(self) -> dict[str, Any]:
        policy.check_coach(self.user)
        return {"sessions": selectors.lobby_snapshot()}
