"""The Phoenix-protocol side: frames, the socket consumer, auth, topics, presence, publish."""
