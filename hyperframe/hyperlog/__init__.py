"""Speak JavaScript hyperlog 4.12.1: its replication protocol (:mod:`.peer`, over
:mod:`.wire`) and its LevelDB files (:mod:`.leveldb`). See docs/HYPERLOG.md."""
