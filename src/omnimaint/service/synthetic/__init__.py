"""A synthetic plant history written straight into a live store: the fleet that the dashboard pages and their
benchmark read (``make bench``: 500 assets, 30 days), without replaying or scoring it.

What :func:`fill_store` writes is what the service would have stored for such a plant, in the same shapes:

- ``assets`` of the bundle's types, on two sites of four lines, their progress columns at the history's end;
- ``scores``: one row per anchor of the bundle's stride grid (``anchor_grid``, as the scorer scores it), every
  head's output shaped as :func:`~omnimaint.service.scorer.score_rows` writes it, following a hidden wear of
  the asset's components: healthy most of the time, now and then a wear episode that ends in a repair, or one
  that fades by itself (:mod:`.plant`, :mod:`.heads`);
- ``alarms``, ``alarm_audit`` and ``alarm_state`` made by the service's own alarm engine and operator actions
  over those scores: alarms in every state, some shelved at the end (:mod:`.control_room`);
- ``telemetry_steps`` at the bundle's telemetry step, and its ``rollups`` row, as if each channel were read
  every 10 minutes (the raw ``telemetry`` table stays empty: the scorer reads the roll-up); controller
  ``events``; ``maintenance`` orders (a corrective one per repair, an inspection after a wear that faded,
  preventive services); a daily vibration burst per waveform channel (:mod:`.records`).

Camera frames are not written: they are files in the service's data folder. An asset type's channels and
components are the simulator's catalogue's (:mod:`omnimaint.sim.catalog`) for the types it knows, every one
the bundle reads otherwise. Rows go in through the driver's ``executemany``.
"""

from omnimaint.service.synthetic.history import FilledStore, StoreNotEmptyError, fill_store

__all__ = ["FilledStore", "StoreNotEmptyError", "fill_store"]
