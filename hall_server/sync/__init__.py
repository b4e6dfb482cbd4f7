"""Station sync (issue 11, docs/sync.md): stations replicate their halls' records to a parent.

- protocol.py        the table lists and row (de)serialisation both ends share
- capture.py         station side: capture triggers, id ranges, the station's set-up
- station.py         station side: the sync loop (push, then pull) and its link state
- parent.py          parent side: apply a push in one transaction
- config_snapshot.py parent side: the configuration a station pulls, with its version
Use cases callers reach over HTTP live in hall_server/services/stations.py; the routes in
hall_server/api/sync.py; the wire shapes in wire/sync.py.
"""
